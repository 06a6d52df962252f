// vitest global setup: one PostgreSQL server for every integration test file.
// TEST_DATABASE_URL (a server URL with rights to create databases) is used when
// set; otherwise an embedded PostgreSQL under .test-data/ is started and stopped.
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/embedded';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    project.provide('adminDatabaseUrl', external);
    return;
  }
  const pg = await startEmbeddedPostgres({ dataDir: '.test-data/vitest' });
  project.provide('adminDatabaseUrl', pg.url('postgres'));
  return () => pg.stop();
}
