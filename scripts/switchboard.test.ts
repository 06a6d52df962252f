// The command line as an operator runs it, against a real database: a key is
// created (shown once), listed without its secret, works, is revoked, stops working.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateKey } from '../server/auth/api-keys';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';
import { ROOT } from '../server/testing/spawn-node';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const cli = (...args: string[]) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/switchboard.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: t.url },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
};

describe('npm run switchboard -- keys', () => {
  it('creates a key shown once, lists it without the secret, and revokes it at once', async () => {
    const created = cli('keys', 'create', '--integration', 'Helpdesk', '--name', 'prod', '--scopes', 'tickets:write,tickets:read');
    expect(created.code).toBe(0);
    const [header, key] = created.out.trim().split('\n');
    expect(key).toMatch(/^sbk_[\w-]{43}$/);
    const id = /key id (\S+)/.exec(header!)?.[1];
    expect(await authenticateKey(t.db, key!)).toMatchObject({ integration: 'Helpdesk', scopes: ['tickets:write', 'tickets:read'] });

    const listed = cli('keys', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`${id}  ${key!.slice(0, 12)}…  Helpdesk / prod`);
    expect(listed.out).not.toContain(key);

    expect(cli('keys', 'revoke', id!).code).toBe(0);
    expect(await authenticateKey(t.db, key!)).toBeUndefined();
    expect(cli('keys', 'revoke', id!)).toMatchObject({ code: 1, err: expect.stringContaining('no active key') });
  });

  it('names the bad option and exits 2', () => {
    expect(cli('keys', 'create', '--integration', 'X', '--name', 'y', '--scopes', 'tickets:write,root')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--scopes: unknown root'),
    });
    expect(cli('keys', 'frobnicate')).toMatchObject({ code: 2, err: expect.stringContaining('unknown command: keys frobnicate') });
  });
});
