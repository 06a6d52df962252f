// pg-boss on the node's database (schema `pgboss`): timed and background jobs.
// Each node runs the workers; pg-boss hands every job to exactly one of them.
import { PgBoss } from 'pg-boss';
import type { Logger } from '../log';

export type Jobs = { boss: PgBoss; stop: () => Promise<void> };

export async function startJobs(params: { databaseUrl: string; log: Logger }): Promise<Jobs> {
  const boss = new PgBoss({
    connectionString: params.databaseUrl,
    schema: 'pgboss',
    max: 4,
    application_name: 'switchboard-jobs',
  });
  // An unhandled 'error' event would end the process; a job failure must not.
  boss.on('error', (error) => params.log.error('pg-boss error', { error }));
  await boss.start();
  return {
    boss,
    stop: () => boss.stop({ graceful: true, timeout: 3_000 }),
  };
}
