// Playwright fixtures: a real Switchboard node per worker (demo workspace,
// embedded Postgres in a fresh directory, a short disconnect grace), and
// `signIn`, which opens a fresh browser context and signs in through /login.
import { rmSync } from 'node:fs';
import { test as base, expect, type Page } from '@playwright/test';
import { spawnNode, tempDataDir, type NodeProcess } from '../server/testing/spawn-node';

export const DISCONNECT_GRACE_MS = 1_500;

type WorkerFixtures = { node: NodeProcess };
type TestFixtures = { signIn: (email: string) => Promise<Page> };

export const test = base.extend<TestFixtures, WorkerFixtures>({
  node: [
    // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form
    async ({}, use) => {
      const dataDir = tempDataDir('e2e');
      const node = await spawnNode({
        DATA_DIR: dataDir,
        DISCONNECT_GRACE_MS: String(DISCONNECT_GRACE_MS),
      });
      await use(node);
      expect(await node.stop('SIGTERM')).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],

  signIn: async ({ browser, node }, use) => {
    const contexts: Array<Awaited<ReturnType<typeof browser.newContext>>> = [];
    await use(async (email) => {
      const context = await browser.newContext({ baseURL: node.url });
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
