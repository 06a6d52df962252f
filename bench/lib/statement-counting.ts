// Statement counting on the embedded PostgreSQL. pg_stat_database's
// transaction counts reach the view up to 10 s late (a backend that goes idle
// flushes its counters on a timer), which blurs windows of seconds;
// pg_stat_statements counts each statement as it finishes. It must be loaded
// at server start, and startEmbeddedPostgres takes no extra flags, so this
// sets it with ALTER SYSTEM (in the benchmark's own data directory) and
// restarts the server once.
import postgres from 'postgres';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded';

export async function startPostgresWithStatementCounting(dataDir: string): Promise<EmbeddedPostgres> {
  const first = await startEmbeddedPostgres({ dataDir });
  try {
    const sql = postgres(first.url('postgres'), { max: 1, onnotice: () => undefined });
    try {
      await sql`alter system set shared_preload_libraries = 'pg_stat_statements'`;
      // Count what clients send, not BEGIN/COMMIT/LISTEN and other utility commands.
      await sql`alter system set pg_stat_statements.track_utility = off`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    await first.stop();
  }
  return startEmbeddedPostgres({ dataDir });
}
