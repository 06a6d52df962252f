// The hub's roster read runs on every doorbell of every node, so they must not be
// planned anew each time. On an analysed log, a visible cursor at the newest id
// made PostgreSQL choose a custom plan on every execution; behind `opaque` it
// settles on the generic plan after five. (The ticket feed's read has the
// same shape and the same treatment.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, createSql, type Db, type Sql } from '../client';
import { createTestDatabase, seedTeam, type TestDatabase } from '../../server/testing/database';
import { rosterDeltasAfter } from './roster';

let t: TestDatabase;
/** One connection, so that pg_prepared_statements (per session) shows the reads' plans. */
let one: Sql;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  const { agents } = await seedTeam(t.db, { team: 'Plans', agents: 50 });
  // A log of some length, analysed, as a running desk's would be.
  for (let round = 0; round < 40; round++) {
    await t.sql`select sb_set_manual(${agents[round % agents.length]!.id}::uuid,
      ${round % 2 ? 'busy' : 'away'}::agent_status, 'manual', null, null, null, null)`;
  }
  await t.sql`insert into presence_events (agent_id, version, status, previous_status, reason, since, devices)
              select agent_id, 1, 'away', 'offline', 'manual', now(), 0 from agent_presence, generate_series(1, 100)`;
  await t.sql`analyze`;
  one = createSql(t.url, { max: 1 });
  db = createDb(one);
});
afterAll(async () => {
  await one?.end();
  await t?.drop();
});

const plansOf = async (text: string) => {
  const [row] = await one`select generic_plans, custom_plans from pg_prepared_statements where statement like ${`%${text}%`}`;
  return { generic: Number(row?.generic_plans ?? 0), custom: Number(row?.custom_plans ?? 0) };
};

describe('the hub’s roster read', () => {
  it('keeps one generic plan for reads after the newest event of an analysed log', async () => {
    const [{ latest }] = (await t.sql`select max(id)::int as latest from presence_events`) as unknown as [{ latest: number }];
    for (let i = 0; i < 12; i++) expect(await rosterDeltasAfter(db, { afterId: latest, limit: 1_000 })).toEqual([]);
    const plans = await plansOf('from presence_events e join users u');
    expect(plans.custom).toBeLessThanOrEqual(5);
    expect(plans.generic).toBeGreaterThanOrEqual(7);
  });
});
