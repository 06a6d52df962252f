// Starts bench/presence-server.ts as a child process and talks to it: waits
// for READY, asks for engine stats, keeps what else it prints (errors
// included) for the report, and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { READY_PREFIX, SERVER_ENV, STATS_COMMAND, STATS_PREFIX, type Mode, type ServerStats } from './presence-modes';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const KEPT_LINES = 2_000;

export type ServerProcess = {
  pid: number;
  port: number;
  stats: () => Promise<ServerStats>;
  /** Lines the server printed besides the protocol (logs, errors), the first KEPT_LINES of them. */
  output: string[];
  /** How many such lines in all. */
  outputCount: () => number;
  /** Sends SIGTERM; resolves with the exit code (SIGKILL after `deadlineMs`). */
  stop: (deadlineMs?: number) => Promise<number | null>;
  exited: Promise<number | null>;
};

export async function spawnPresenceServer(options: {
  mode: Mode;
  databaseUrl: string;
  redisUrl?: string;
  redisKey?: string;
  readyTimeoutMs: number;
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/presence-server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      [SERVER_ENV.mode]: options.mode,
      [SERVER_ENV.databaseUrl]: options.databaseUrl,
      [SERVER_ENV.redisUrl]: options.redisUrl ?? '',
      [SERVER_ENV.redisKey]: options.redisKey ?? '',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let outputCount = 0;
  const keep = (line: string) => {
    outputCount += 1;
    if (output.length < KEPT_LINES) output.push(line);
  };
  const waitingForStats: Array<{ resolve: (stats: ServerStats) => void; reject: (error: Error) => void }> = [];
  let ready: ((value: { pid: number; port: number }) => void) | undefined;

  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith(READY_PREFIX)) ready?.(JSON.parse(line.slice(READY_PREFIX.length)) as { pid: number; port: number });
    else if (line.startsWith(STATS_PREFIX)) waitingForStats.shift()?.resolve(JSON.parse(line.slice(STATS_PREFIX.length)) as ServerStats);
    else keep(line);
  });
  createInterface({ input: child.stderr }).on('line', keep);
  child.stdin.on('error', () => undefined); // the server may exit before reading

  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const waiting of waitingForStats.splice(0)) waiting.reject(new Error(`the ${options.mode} server exited with ${code}`));
      resolve(code);
    }),
  );
  const started = await new Promise<{ pid: number; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${options.mode} server did not start in ${options.readyTimeoutMs} ms:\n${output.join('\n')}`));
    }, options.readyTimeoutMs);
    ready = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the ${options.mode} server exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });

  let stopped: Promise<number | null> | undefined;
  return {
    ...started,
    output,
    outputCount: () => outputCount,
    exited,
    stats: () =>
      new Promise<ServerStats>((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`the ${options.mode} server has exited`));
        waitingForStats.push({ resolve, reject });
        child.stdin.write(`${STATS_COMMAND}\n`);
      }),
    stop: (deadlineMs = 25_000) =>
      (stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      })()),
  };
}
