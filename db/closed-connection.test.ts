// A connection PostgreSQL closes while a transaction or a reservation holds it
// (a restart, a failover): the next statement on it must fail to its caller,
// not throw from a timer where nobody can catch it (decision 036,
// scripts/patch-dependencies.mjs). Without the mends, each case here ends in an
// uncaught TypeError that vitest reports as an unhandled error.
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { createSql, type Sql } from './client';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';
import { startTcpProxy } from '../server/testing/tcp-proxy';

let t: TestDatabase;
/** A fresh pool of two connections per test. */
let sql: Sql;
const uncaught: unknown[] = [];
const record = (error: unknown) => uncaught.push(error);

beforeAll(async () => {
  t = await createTestDatabase();
  process.on('uncaughtException', record);
});
beforeEach(() => {
  sql = createSql(t.url, { max: 2, name: 'closed-connection-test' });
});
afterEach(async () => {
  await sql.end({ timeout: 1 });
});
afterAll(async () => {
  process.off('uncaughtException', record);
  await t?.drop();
});

/** Every connection of the pool (two) answers: six statements at once, on two backends, three times. */
async function poolAnswers(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => sql`select ${i}::int as i, pg_backend_pid() as pid, pg_sleep(0.05)`));
    expect(answers.map(([row]) => row?.i)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(answers.map(([row]) => row?.pid)).size).toBe(2);
  }
}

/** Ends the backend `pid` from another connection, and waits until its client has seen the close. */
async function terminate(pid: number): Promise<void> {
  await t.sql`select pg_terminate_backend(${pid})`;
  await new Promise((resolve) => setTimeout(resolve, 200));
}

it('a reserved connection whose backend was ended fails its next statement, catchably, and the pool carries on', async () => {
  const reserved = await sql.reserve();
  const [{ pid }] = (await reserved`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
  await terminate(pid);
  const failure = await reserved`select 1`.then(
    () => undefined,
    (error: Error) => error,
  );
  expect(failure?.message).toMatch(/CONNECTION_CLOSED/);
  reserved.release(); // as a finally block does
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(uncaught).toEqual([]);
  await poolAnswers(); // the dead connection was not handed back to the pool as open
});

it('a transaction whose backend was ended rejects to its caller (its ROLLBACK has no socket to go to)', async () => {
  const transaction = sql.begin(async (tx) => {
    const [{ pid }] = (await tx`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    await terminate(pid);
    await tx`select 1`;
  });
  await expect(transaction).rejects.toBeTruthy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(uncaught).toEqual([]);
  await poolAnswers(); // the dead connection was not left filed as busy
});

it('a server that accepts connections and closes them at once (a proxy whose database is gone) is retried with the backoff, not in a loop', async () => {
  const proxy = await startTcpProxy(t.url);
  try {
    proxy.cut({ fresh: 'close' });
    const cutOff = createSql(proxy.urlFor(t.url), { max: 1, name: 'closed-connection-proxy' });
    const before = proxy.accepted;
    const attempt = cutOff`select 1`.catch(() => undefined); // waits while the pool keeps trying
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const attempts = proxy.accepted - before;
    await cutOff.end({ timeout: 0 });
    await attempt;
    // The backoff (db/client.ts) allows 0.1 + 0.2 + 0.4 + 0.8 s… : about five attempts in 2 s. Unmended, thousands.
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThan(20);
  } finally {
    await proxy.close();
  }
});
