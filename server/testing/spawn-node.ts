// Starts a real Switchboard node as a child process (`node --import tsx
// server/main.ts`), exactly as `npm start` runs it, and stops or kills it.
// Used by process tests and by the Playwright fixtures.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../node-flags';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type NodeProcess = {
  url: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  /** Sends a signal and resolves with the exit code once the process has exited. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * `count` free ports in a row (a cluster's front and its nodes after it), below
 * the kernel's ephemeral range (32768 on): there a port is taken only by a
 * listener, never by another test's outgoing connection, as P+3 of an
 * ephemeral P was once in CI (scripts/cluster.test.ts).
 */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await isFree(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} free ports in a row between 20000 and 32000`);
}

/** A fresh directory under .test-data/ that the postgres system user can enter. */
export function tempDataDir(prefix: string): string {
  const base = join(ROOT, '.test-data');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  return mkdtempSync(join(base, `${prefix}-`));
}

/** Runs main.ts with `env` (merged over this process's environment) and resolves with the exit. */
export function runMain(env: Record<string, string>, timeoutMs = 60_000) {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, exited, output: () => stdout + stderr };
}

export async function spawnNode(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<NodeProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const run = runMain({ HOST: '127.0.0.1', ...env, PORT: String(port) }, 24 * 3600_000);
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`node did not start in ${readyTimeoutMs} ms:\n${run.output()}`)), readyTimeoutMs);
    const check = () => {
      if (run.output().includes('switchboard listening on')) {
        clearTimeout(deadline);
        resolve();
      }
    };
    run.child.stdout?.on('data', check);
    run.child.on('exit', (code) => {
      clearTimeout(deadline);
      reject(new Error(`node exited with ${code} before it was ready:\n${run.output()}`));
    });
  });
  return {
    url,
    port,
    child: run.child,
    output: run.output,
    stop: async (signal = 'SIGTERM') => {
      if (run.child.exitCode === null) run.child.kill(signal);
      return (await run.exited).code;
    },
  };
}
