// A fault: every connection to the database is cut at once (as a restart or a
// failover does), while agents are connected, heartbeating, changing status,
// and a ticket's offer is running. Afterwards, without restarting the node:
// heartbeats were acknowledged throughout, every status change that was
// acknowledged reaches the supervisor's roster, which ends equal to the
// database, and the offer's pg-boss timer still fires, exactly once.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertQueue } from '../../db/queries/queues';
import { insertUser } from '../../db/queries/people';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { startTestNode } from '../testing/node';
import { keyClient, openDevice, signIn, socketClient, type Device } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';

const OFFER_TIMEOUT_MS = 2_500;
let t: TestDatabase;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;
let key: string;
const devices: Device[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Fault', agents: 3 });
  await insertUser(t.db, { email: 'admin@f.test', name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  await insertQueue(t.db, { name: 'Fault queue', teamId: team.teamId });
  key = (await createApiKey(t.db, { integration: 'desk', name: 'k', scopes: ['tickets:write', 'tickets:read'] })).key;
  node = await startTestNode(t.url, { OFFER_TIMEOUT_MS: String(OFFER_TIMEOUT_MS), MISSED_OFFERS_LIMIT: '100' });
  for (const agent of team.agents) devices.push(await openDevice(node.url, await signIn(node.url, agent.email, TEST_PASSWORD)));
});
afterAll(async () => {
  for (const device of devices) await device.close();
  await node?.stop();
  await t?.drop();
});

/** Cuts every connection to the test database but the one asking. */
async function cutEveryConnection(): Promise<number> {
  const rows = await t.db.execute<{ ok: boolean }>(sql`
    select pg_terminate_backend(pid) as ok from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid()`);
  return rows.length;
}

it('comes through every connection being cut: heartbeats answered, no acknowledged change missing from the roster, the offer timer fired once', async () => {
  const supervisor = socketClient(node.url, await signIn(node.url, team.supervisor.email, TEST_PASSWORD));
  const rows = new Map<string, { status: string; version: number }>();
  const sub = supervisor.trpc.roster.watch.subscribe(
    {},
    {
      onData: ({ data }) => {
        if (data.type === 'snapshot') for (const r of data.rows) rows.set(r.agentId, r);
        else for (const { row } of data.changes) rows.set(row.agentId, row);
      },
    },
  );
  await expect.poll(() => rows.size).toBe(3);

  // One agent takes tickets; a ticket is offered to them and left to time out.
  const [taker, ...others] = devices;
  for (const other of others) await other.trpc.presence.setStatus.mutate({ status: 'busy' });
  const ticket = await keyClient(node.url, key).tickets.create.mutate({ externalId: 'fault-1', queue: 'Fault queue', channel: 'chat', subject: 'Help' });
  await expect.poll(async () => (await t.sql`select state from tickets where id = ${ticket.id}`)[0]?.state).toBe('offered');

  // Heartbeats every 20 ms from one tab, timed, through the whole fault.
  const acks: number[] = [];
  let failed = 0;
  let beating = true;
  const heartbeats = (async () => {
    while (beating) {
      const sent = performance.now();
      await taker!.heartbeat().then(() => acks.push(performance.now() - sent), () => (failed += 1));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  expect(await cutEveryConnection()).toBeGreaterThan(3); // the pools, the LISTEN connection, pg-boss
  // Status changes right after the cut: each is answered (the node makes again a change whose
  // connection was cut under it), and each must show on the roster.
  const statuses = ['away', 'available', 'busy'] as const;
  for (let round = 0; round < 3; round++) {
    for (const other of others) await other.trpc.presence.setStatus.mutate({ status: statuses[round]! });
  }

  // The offer's timer (a pg-boss job) fires once, after the cut, and the ticket goes back and is offered again.
  await expect
    .poll(async () => (await t.sql`select count(*)::int as n from ticket_events where ticket_id = ${ticket.id} and type = 'offer_expired'`)[0]!.n, {
      timeout: OFFER_TIMEOUT_MS + 10_000,
    })
    .toBeGreaterThanOrEqual(1);
  await new Promise((resolve) => setTimeout(resolve, 500)); // a second firing of the same timer would land by now
  // Each offer ends once: between two expiries there is always a new offer.
  const history = (await t.sql<{ type: string }[]>`select type from ticket_events where ticket_id = ${ticket.id} order by id`).map((e) => e.type);
  const ends = history.filter((type) => type === 'offered' || type === 'offer_expired');
  expect(ends.filter((type, i) => type === 'offer_expired' && ends[i - 1] !== 'offered')).toEqual([]);

  beating = false;
  await heartbeats;
  const truth = await t.sql<{ agent_id: string; status: string; version: number }[]>`
    select agent_id, status, version from agent_presence where agent_id = any(${team.agents.map((a) => a.id)})`;
  await expect
    .poll(() => Object.fromEntries([...rows].map(([id, r]) => [id, `${r.status}@${r.version}`])), { timeout: 10_000 })
    .toEqual(Object.fromEntries(truth.map((r) => [r.agent_id, `${r.status}@${r.version}`])));
  const othersIds = team.agents.slice(1).map((a) => a.id);
  expect(truth.filter((r) => othersIds.includes(r.agent_id)).map((r) => r.status)).toEqual(['busy', 'busy']); // the last round's

  acks.sort((a, b) => a - b);
  console.log(`database cut: ${acks.length} heartbeats acknowledged (p99 ${acks[Math.floor(acks.length * 0.99)]!.toFixed(1)} ms), ${failed} failed`);
  expect(failed).toBe(0);
  sub.unsubscribe();
  await supervisor.close();
});
