// A benchmark's server under test as a child process, so that the load
// generator's work is not counted as the server's. The child is a script that
// prints `READY {"pid":…,"port":…}` once it listens, answers a `stats` line on
// stdin with `STATS {…}`, and stops on SIGTERM (or when stdin closes). This
// starts it, waits for READY, keeps what else it prints (errors included) for
// the report, and stops it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: child scripts are named relative to it. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `READY {"pid":…,"port":…}` once the server listens. */
export const READY_PREFIX = 'READY ';
/** `STATS {…}` in answer to a `stats` line on stdin. */
export const STATS_PREFIX = 'STATS ';
export const STATS_COMMAND = 'stats';

const KEPT_LINES = 2_000;

export type ServerProcess<Stats> = {
  pid: number;
  port: number;
  stats: () => Promise<Stats>;
  /** Lines the server printed besides the protocol (logs, errors), the first KEPT_LINES of them. */
  output: string[];
  /** How many such lines in all. */
  outputCount: () => number;
  /** Sends SIGTERM; resolves with the exit code (SIGKILL after `deadlineMs`). */
  stop: (deadlineMs?: number) => Promise<number | null>;
  exited: Promise<number | null>;
};

export async function spawnServerProcess<Stats>(options: {
  /** The script to run with tsx, relative to the repository root. */
  script: string;
  /** How errors name it: "the batched server". */
  label: string;
  /** Merged over this process's environment (NODE_ENV is production unless given). */
  env: Record<string, string>;
  readyTimeoutMs: number;
  /** Node flags the server runs with (a Switchboard server: SERVER_NODE_FLAGS, as `npm start` gives). */
  nodeFlags?: readonly string[];
}): Promise<ServerProcess<Stats>> {
  const { label } = options;
  // For finding where a server's time goes: BENCH_SERVER_NODE_FLAGS are given to each server's node
  // (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, `--trace-gc`), and BENCH_SERVER_ECHO=1 copies its output to stderr.
  const flags = (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const echo = process.env.BENCH_SERVER_ECHO === '1';
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...flags, '--import', 'tsx', options.script], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let outputCount = 0;
  const keep = (line: string) => {
    if (echo) process.stderr.write(`[${label}] ${line}\n`);
    outputCount += 1;
    if (output.length < KEPT_LINES) output.push(line);
  };
  const waitingForStats: Array<{ resolve: (stats: Stats) => void; reject: (error: Error) => void }> = [];
  let ready: ((value: { pid: number; port: number }) => void) | undefined;

  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith(READY_PREFIX)) ready?.(JSON.parse(line.slice(READY_PREFIX.length)) as { pid: number; port: number });
    else if (line.startsWith(STATS_PREFIX)) waitingForStats.shift()?.resolve(JSON.parse(line.slice(STATS_PREFIX.length)) as Stats);
    else keep(line);
  });
  createInterface({ input: child.stderr }).on('line', keep);
  child.stdin.on('error', () => undefined); // the server may exit before reading

  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const waiting of waitingForStats.splice(0)) waiting.reject(new Error(`${label} exited with ${code}`));
      resolve(code);
    }),
  );
  const started = await new Promise<{ pid: number; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not start in ${options.readyTimeoutMs} ms:\n${output.join('\n')}`));
    }, options.readyTimeoutMs);
    ready = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });

  let stopped: Promise<number | null> | undefined;
  return {
    ...started,
    output,
    outputCount: () => outputCount,
    exited,
    stats: () =>
      new Promise<Stats>((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`${label} has exited`));
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

/** Distinct lines the server printed, most frequent first (JSON logs by level and message). */
export function summarizeOutput(output: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const line of output) {
    let key = line.slice(0, 200);
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; error?: { message?: string } };
      key = `${entry.level ?? '?'}: ${entry.msg ?? ''}${entry.error?.message ? ` (${entry.error.message.slice(0, 160)})` : ''}`;
    } catch {
      // not a log line
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([line, n]) => `${n}× ${line}`);
}
