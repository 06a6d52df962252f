// A node in a process of its own, for the fuzz test: a crash is a crash (an
// uncaught throw ends the process, as it would end a production node, rather
// than being caught by the test runner), and the node's work runs on another
// core than the fuzzing client's. What it logs as errors is read from its
// stderr, one JSON line each.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type NodeProcess = {
  url: string;
  wsMaxPayloadBytes: number;
  httpMaxBodyBytes: number;
  /** Each INTERNAL_SERVER_ERROR the node logged ("procedure failed"): its procedure and error. */
  procedureFailures: Array<{ path: string; error: string }>;
  /** Whatever else it wrote to stderr: other error logs, and the stack of an uncaught throw. */
  otherErrors: string[];
  /** How it ended, once it has: exit code or signal. */
  exited: () => string | undefined;
  stop: () => Promise<void>;
};

const MAIN = fileURLToPath(new URL('./testing-node-process-main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function startNodeProcess(databaseUrl: string, settings: Record<string, string>): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, databaseUrl, JSON.stringify(settings)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: string | undefined;
  const exited = once(child, 'exit').then(([code, signal]) => {
    exit = signal ? `signal ${String(signal)}` : `exit code ${String(code)}`;
  });

  const procedureFailures: NodeProcess['procedureFailures'] = [];
  const otherErrors: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    let entry: { msg?: unknown; path?: unknown; error?: { name?: unknown; message?: unknown } | string } | undefined;
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      otherErrors.push(line); // not a log line: an uncaught throw's stack, say
      return;
    }
    const error = typeof entry?.error === 'object' ? `${String(entry.error.name)}: ${String(entry.error.message)}` : String(entry?.error);
    if (entry?.msg === 'procedure failed') procedureFailures.push({ path: String(entry.path), error });
    else otherErrors.push(line.slice(0, 2_000));
  });

  type Ready = { url: string; wsMaxPayloadBytes: number; httpMaxBodyBytes: number };
  const ready = new Promise<Ready>((resolve, reject) => {
    // Read to the end (a full pipe would stall the node): the line saying it listens, and its warnings.
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = (() => {
        try {
          return JSON.parse(line) as Partial<Ready> & { level?: string };
        } catch {
          return undefined;
        }
      })();
      if (entry?.url && !entry.level) resolve(entry as Ready);
    });
    void exited.then(() => reject(new Error(`the node process ended before it listened (${exit}): ${otherErrors.join('\n')}`)));
  });
  const started = await ready;

  return {
    ...started,
    procedureFailures,
    otherErrors,
    exited: () => exit,
    stop: async () => {
      if (exit) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
