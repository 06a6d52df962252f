// Integration: the roster subscription resumes exactly — a subscriber cut off in
// the middle of a burst of changes and resuming from its last id sees every
// change once, in order, equal to the event log; and sees no other team.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { startTestNode } from '../testing/node';
import { changeAgent } from '../presence/store';
import { snapshotReads } from './service';
import { signIn, socketClient } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';

let t: TestDatabase;
let node: RunningNode;
let red: Awaited<ReturnType<typeof seedTeam>>;
let blue: Awaited<ReturnType<typeof seedTeam>>;

beforeAll(async () => {
  t = await createTestDatabase();
  red = await seedTeam(t.db, { team: 'Red', agents: 5 });
  blue = await seedTeam(t.db, { team: 'Blue', agents: 3 });
  node = await startTestNode(t.url);
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

type Seen = { id: number; type: string; agentId?: string; version?: number };
const STATUSES = ['busy', 'away', 'available', 'offline'] as const;

/** Flips the chosen status of every given agent `rounds` times, concurrently per agent. */
async function burst(agentIds: string[], rounds: number, from = 0) {
  await Promise.all(
    agentIds.map(async (agentId) => {
      for (let i = from; i < from + rounds; i++) {
        await changeAgent(node.services.db, { agentId, manual: { status: STATUSES[i % 4]!, reason: 'manual' } });
      }
    }),
  );
}

function watch(cookie: string, input: { lastEventId?: string } = {}) {
  const client = socketClient(node.url, cookie);
  const seen: Seen[] = [];
  const sub = client.trpc.roster.watch.subscribe(input, {
    onData: ({ id, data }) => {
      if (data.type === 'snapshot') return void seen.push({ id: Number(id), type: data.type });
      // A message's id is its last change's: resuming from it neither skips nor repeats a change.
      if (Number(id) !== data.changes.at(-1)?.eventId) throw new Error(`message id ${id} is not its last change's`);
      for (const { eventId, row } of data.changes) seen.push({ id: eventId, type: 'change', agentId: row.agentId, version: row.version });
    },
  });
  return { seen, stop: async () => { sub.unsubscribe(); await client.close(); } };
}

/** A roster subscriber's view: the latest row of each agent it was sent. */
function watchRows(cookie: string) {
  const client = socketClient(node.url, cookie);
  const rows = new Map<string, { status: string; version: number }>();
  const sub = client.trpc.roster.watch.subscribe(
    {},
    {
      onData: ({ data }) => {
        if (data.type === 'snapshot') for (const r of data.rows) rows.set(r.agentId, r);
        else for (const { row } of data.changes) rows.set(row.agentId, row);
      },
    },
  );
  return { rows, stop: async () => { sub.unsubscribe(); await client.close(); } };
}

const shown = (rows: Map<string, { status: string; version: number }>, agentIds: string[]) =>
  Object.fromEntries(agentIds.map((id) => [id, `${rows.get(id)?.status}@${rows.get(id)?.version}`]));

async function truth(agentIds: string[]) {
  const rows = await t.sql`select agent_id, status, version from agent_presence where agent_id in ${t.sql(agentIds)}`;
  return Object.fromEntries(rows.map((r) => [r.agent_id, `${r.status}@${r.version}`]));
}

describe('the hub', () => {
  it('hands a subscription to one agent that agent’s changes only, and counts it while it lasts', async () => {
    const [mine, other] = [red.agents[2]!.id, red.agents[3]!.id];
    // First in the file: no other subscription is still ending while this one counts.
    const before = node.services.hub.subscribers;
    const got: string[] = [];
    const all: string[] = [];
    const stop = node.services.hub.subscribeAgent(mine, (d) => got.push(d.row.agentId));
    const again = node.services.hub.subscribeAgent(mine, () => undefined);
    const everyone = node.services.hub.subscribe((d) => all.push(d.row.agentId));
    expect(node.services.hub.subscribers).toBe(before + 3);
    await burst([mine, other], 2);
    // Both agents' changes went through the hub; the agent's own subscription got its two only.
    await expect.poll(() => all.filter((a) => a === other).length).toBe(2);
    await expect.poll(() => all.filter((a) => a === mine).length).toBe(2);
    expect(got).toEqual([mine, mine]);
    everyone();
    stop();
    stop(); // twice is harmless
    again();
    expect(node.services.hub.subscribers).toBe(before);
  });
});

describe('roster.watch', () => {
  it('resumes from the last id it saw with every later change once, in order, equal to the log', async () => {
    const cookie = await signIn(node.url, red.supervisor.email, TEST_PASSWORD);
    const agentIds = red.agents.map((a) => a.id);
    const first = watch(cookie);
    await expect.poll(() => first.seen.length).toBe(1); // the snapshot
    const [{ start }] = (await t.sql`select coalesce(max(id), 0)::int as start from presence_events`) as unknown as [{ start: number }];

    // Cut the first subscriber off in the middle of the burst.
    const running = burst(agentIds, 40);
    await expect.poll(() => first.seen.length, { timeout: 10_000 }).toBeGreaterThan(30);
    await first.stop();
    const lastSeen = first.seen.at(-1)!.id;
    await running;
    await burst(agentIds, 10, 40); // more changes while nobody listens

    const second = watch(cookie, { lastEventId: String(lastSeen) });
    const [{ end }] = (await t.sql`select max(id)::int as end from presence_events`) as unknown as [{ end: number }];
    await expect.poll(() => second.seen.at(-1)?.id, { timeout: 10_000 }).toBe(end);
    await second.stop();

    const log = await t.sql`select id::int, agent_id, version from presence_events where id > ${start} order by id`;
    const received = [...first.seen.slice(1), ...second.seen];
    expect(received.every((e) => e.type === 'change')).toBe(true);
    expect(received.map((e) => [e.id, e.agentId, e.version])).toEqual(log.map((e) => [e.id, e.agent_id, e.version]));
  });

  it('ends equal to the database after its node’s LISTEN connection is killed during changes', async () => {
    const cookie = await signIn(node.url, red.supervisor.email, TEST_PASSWORD);
    const { rows, stop } = watchRows(cookie);
    await expect.poll(() => rows.size).toBe(red.agents.length);
    const agentIds = red.agents.map((a) => a.id);
    const running = burst(agentIds, 30, 1);
    const killed = await t.sql`select pg_terminate_backend(pid) as ok from pg_stat_activity
                                where datname = current_database() and query ilike 'listen%'`;
    expect(killed.length).toBeGreaterThan(0);
    await running;
    await burst(agentIds, 3, 31); // changes after the connection is back
    await expect.poll(() => shown(rows, agentIds), { timeout: 10_000 }).toEqual(await truth(agentIds));
    await stop();
  });

  it('reads one snapshot for the subscribers that ask while a read is running, each ending equal to the database', async () => {
    const cookie = await signIn(node.url, red.supervisor.email, TEST_PASSWORD);
    const agentIds = red.agents.map((a) => a.id);
    const stats = snapshotReads(node.services.db).stats;
    const before = { ...stats };
    // Holding device_sessions stalls every snapshot read (its last-seen column reads that table) once it is out.
    const blocker = await t.sql.reserve();
    await blocker`begin`;
    await blocker`lock table device_sessions in access exclusive mode`;
    const watchers: Array<ReturnType<typeof watchRows>> = [];
    try {
      watchers.push(watchRows(cookie));
      await expect.poll(() => stats.reads - before.reads).toBe(1);
      for (let i = 0; i < 11; i++) watchers.push(watchRows(cookie));
      await expect.poll(() => stats.asks - before.asks).toBe(12);
      expect(stats.reads - before.reads).toBe(1); // the other eleven wait for the next read, not this one
    } finally {
      await blocker`commit`;
      blocker.release();
    }
    await expect.poll(() => watchers.every((w) => w.rows.size === agentIds.length)).toBe(true);
    expect(stats.reads - before.reads).toBe(2);
    await burst(agentIds, 4, 2);
    const expected = await truth(agentIds);
    for (const w of watchers) await expect.poll(() => shown(w.rows, agentIds)).toEqual(expected);
    await Promise.all(watchers.map((w) => w.stop()));
  });

  it('sends a supervisor no event about another team’s agent', async () => {
    const cookie = await signIn(node.url, blue.supervisor.email, TEST_PASSWORD);
    const watcher = watch(cookie);
    await expect.poll(() => watcher.seen.length).toBe(1);
    await burst(red.agents.map((a) => a.id), 3);
    await burst([blue.agents[0]!.id], 2);
    await expect.poll(() => watcher.seen.length).toBe(3);
    const blueIds = new Set(blue.agents.map((a) => a.id));
    expect(watcher.seen.slice(1).every((e) => blueIds.has(e.agentId!))).toBe(true);
    await watcher.stop();
  });

  it('answers a resume from before the retained log, or from an unknown id, with a fresh snapshot', async () => {
    const cookie = await signIn(node.url, red.supervisor.email, TEST_PASSWORD);
    const [{ latest }] = (await t.sql`select max(id)::int as latest from presence_events`) as unknown as [{ latest: number }];
    const unknown = watch(cookie, { lastEventId: String(latest + 1000) });
    await expect.poll(() => unknown.seen[0]?.type).toBe('snapshot');
    await unknown.stop();
    // Retention removes the oldest events (as a retention job would); a resume from before them cannot replay.
    await t.sql`delete from presence_events where id <= 20`;
    const watcher = watch(cookie, { lastEventId: '5' });
    await expect.poll(() => watcher.seen[0]?.type).toBe('snapshot');
    await watcher.stop();
  });

  it('keeps delivering to every other subscriber when one of them fails', async () => {
    // Subscribed first, so the hub calls it before the watcher's subscription on every event.
    const failing = node.services.hub.subscribe(() => {
      throw new Error('a subscriber that fails on every event');
    });
    const watcher = watch(await signIn(node.url, red.supervisor.email, TEST_PASSWORD));
    try {
      await expect.poll(() => watcher.seen.length).toBe(1);
      await burst([red.agents[0]!.id], 3);
      await expect.poll(() => watcher.seen.length).toBe(4);
    } finally {
      failing();
    }
    await burst([red.agents[1]!.id], 1);
    await expect.poll(() => watcher.seen.length).toBe(5);
    await watcher.stop();
  });
});
