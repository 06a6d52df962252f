// The demo seed, run by nodes started together on an empty database (README's
// own two-node example leaves SEED=demo): exactly one seeds, the others find
// the workspace there and seed nothing, and none fails its start.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, createSql } from './client';
import { seedDemo } from './seed';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

it('seeds once when three nodes seed at the same time', async () => {
  const pools = [0, 1, 2].map((i) => createSql(t.url, { max: 2, name: `seed-${i}` }));
  try {
    const results = await Promise.all(pools.map((sql) => seedDemo(createDb(sql))));
    expect(results.filter((logins) => logins.length > 0)).toHaveLength(1);
    const [{ n }] = (await t.sql<{ n: number }[]>`select count(*)::int as n from users where email = 'supervisor@example.com'`) as unknown as [{ n: number }];
    expect(n).toBe(1);
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 5 })));
  }
});
