// The PostgreSQL server a benchmark runs on: the one whose admin database
// BENCH_ADMIN_DATABASE_URL names (e.g. postgres://postgres@127.0.0.1:5432/postgres),
// or else an embedded one in a fresh directory under .test-data, removed when
// stopped. Benchmarks create (and drop) their own databases on it. When the
// server runs on this machine, its postmaster's pid lets a benchmark read the
// database's CPU time.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../../db/embedded';
import { parentPid } from './process-stats';
import { ROOT } from './server-process';
import { startPostgresWithStatementCounting } from './statement-counting';

export type BenchPostgres = {
  adminUrl: string;
  /** Whether it is the server at BENCH_ADMIN_DATABASE_URL (not started here). */
  external: boolean;
  version: string;
  /** The postmaster's pid, when the server runs on this machine. */
  postmasterPid: number | undefined;
  /** Stops the embedded server and removes its files; nothing for an external one. */
  stop: () => Promise<void>;
};

export async function openBenchPostgres(options: {
  /** Load pg_stat_statements into an embedded server (an external one has it or not). */
  statementCounting?: boolean;
  say: (line: string) => void;
}): Promise<BenchPostgres> {
  const external = process.env.BENCH_ADMIN_DATABASE_URL;
  if (external) {
    options.say('using the PostgreSQL at BENCH_ADMIN_DATABASE_URL');
    const { version, postmasterPid } = await describe(external);
    return { adminUrl: external, external: true, version, postmasterPid, stop: async () => undefined };
  }
  const base = join(ROOT, '.test-data');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dataDir = mkdtempSync(join(base, 'bench-'));
  chmodSync(dataDir, 0o755); // the postgres system user must enter it
  options.say(`starting embedded PostgreSQL in ${dataDir}`);
  try {
    const embedded = options.statementCounting
      ? await startPostgresWithStatementCounting(dataDir)
      : await startEmbeddedPostgres({ dataDir });
    const adminUrl = embedded.url('postgres');
    const { version } = await describe(adminUrl);
    return {
      adminUrl,
      external: false,
      version,
      postmasterPid: embedded.pid,
      stop: async () => {
        await embedded.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

const LOCAL_HOSTS = new Set(['', 'localhost', '127.0.0.1', '[::1]']);

/** The server's version and, when it runs here, its postmaster: the parent of our backend, read while connected. */
async function describe(adminUrl: string): Promise<{ version: string; postmasterPid: number | undefined }> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await sql<{ version: string; pid: number }[]>`
      select current_setting('server_version') as version, pg_backend_pid() as pid`;
    const local = LOCAL_HOSTS.has(new URL(adminUrl).hostname);
    return { version: row?.version ?? 'unknown', postmasterPid: local && row ? parentPid(row.pid) : undefined };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
