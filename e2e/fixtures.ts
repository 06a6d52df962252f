// Playwright fixtures: per worker, a real PostgreSQL (embedded, in a fresh
// directory) and a real Switchboard node on it (demo workspace, short
// disconnect grace; `nodeEnv` adds settings); `sql` lets a test read the
// database; `signIn` opens a fresh browser context and signs in through /login.
import { rmSync } from 'node:fs';
import { test as base, expect, type Page } from '@playwright/test';
import postgres from 'postgres';
import { ensureDatabase, startEmbeddedPostgres } from '../db/embedded';
import { spawnNode, tempDataDir, type NodeProcess } from '../server/testing/spawn-node';

export const DISCONNECT_GRACE_MS = 1_500;

type WorkerFixtures = {
  nodeEnv: Record<string, string>;
  databaseUrl: string;
  node: NodeProcess;
  /** A second node on the same database, started only for tests that ask for it. */
  nodeB: NodeProcess;
  sql: postgres.Sql;
};
type TestFixtures = { signIn: (email: string, on?: NodeProcess) => Promise<Page> };

/** Runs one node for a worker fixture, and checks it stops cleanly. */
async function runNode(
  name: string,
  databaseUrl: string,
  nodeEnv: Record<string, string>,
  use: (node: NodeProcess) => Promise<void>,
): Promise<void> {
  const node = await spawnNode({
    DATABASE_URL: databaseUrl,
    NODE_NAME: name,
    DISCONNECT_GRACE_MS: String(DISCONNECT_GRACE_MS),
    ...nodeEnv,
  });
  await use(node);
  expect(await node.stop('SIGTERM')).toBe(0);
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  nodeEnv: [{}, { option: true, scope: 'worker' }],

  databaseUrl: [
    // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form
    async ({}, use) => {
      const dataDir = tempDataDir('e2e');
      const pg = await startEmbeddedPostgres({ dataDir });
      await ensureDatabase(pg.url('postgres'), 'switchboard');
      await use(pg.url('switchboard'));
      await pg.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],

  node: [
    async ({ databaseUrl, nodeEnv }, use) => {
      await runNode('node-a', databaseUrl, nodeEnv, use);
    },
    { scope: 'worker' },
  ],

  nodeB: [
    async ({ databaseUrl, nodeEnv, node }, use) => {
      void node; // node A migrates and seeds first
      await runNode('node-b', databaseUrl, nodeEnv, use);
    },
    { scope: 'worker' },
  ],

  sql: [
    async ({ databaseUrl, node }, use) => {
      void node; // the node migrates and seeds before tests read
      const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
      await use(sql);
      await sql.end({ timeout: 5 });
    },
    { scope: 'worker' },
  ],

  signIn: async ({ browser, node }, use) => {
    const contexts: Array<Awaited<ReturnType<typeof browser.newContext>>> = [];
    await use(async (email, on = node) => {
      const context = await browser.newContext({ baseURL: on.url });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto('/login');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('switchboard');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/(agent|roster)$/);
      return page;
    });
    for (const context of contexts) await context.close();
  },
});

export { expect };
