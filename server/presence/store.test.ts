// Integration: presence writes against a real PostgreSQL.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerNode } from '../../db/queries/nodes';
import { presenceChannel } from '../realtime/channels';
import { createTestDatabase, seedTeam, type TestDatabase } from '../testing/database';
import { attachSession, changeAgent, changeAgents, endSession, endSessionsOfDeadNodes } from './store';

let t: TestDatabase;
let agents: Array<{ id: string }>;
const nodeId = randomUUID();

beforeAll(async () => {
  t = await createTestDatabase();
  ({ agents } = await seedTeam(t.db, { team: 'Store', agents: 4 }));
  await registerNode(t.db, { id: nodeId, name: 'store-test', pid: process.pid });
});
afterAll(() => t.drop());

const agentRow = async (agentId: string) => {
  const [row] = await t.sql`select status, reason, devices, version from agent_presence where agent_id = ${agentId}`;
  return row;
};
const eventsOf = (agentId: string) =>
  t.sql`select status, previous_status, reason, devices, version from presence_events where agent_id = ${agentId} order by id`;
const attach = (agentId: string, clientSessionId = randomUUID()) =>
  attachSession(t.db, { agentId, deviceId: 'dev-1', clientSessionId, nodeId, label: 'Test device' });

describe('presence store', () => {
  let agent: { id: string };
  let next = 0;
  beforeEach(() => {
    agent = agents[next++]!;
  });

  it('shows an agent available once a device attaches, with one event and one notification', async () => {
    const received: string[] = [];
    const listener = await t.sql.listen(presenceChannel.name, (payload) => received.push(payload));
    const { change } = await attach(agent.id);
    expect(change).toMatchObject({ changed: true, status: 'available', version: 1 });
    expect(await agentRow(agent.id)).toEqual({ status: 'available', reason: 'manual', devices: 1, version: 1 });
    expect(await eventsOf(agent.id)).toEqual([
      { status: 'available', previous_status: 'offline', reason: 'manual', devices: 1, version: 1 },
    ]);
    await expect.poll(() => received.length).toBe(1);
    expect(presenceChannel.parse(received[0]!)).toEqual({ n: 1 });
    await listener.unlisten();
  });

  it('keeps the agent available while one device remains, and turns offline when the last goes', async () => {
    const one = await attach(agent.id);
    const two = await attach(agent.id);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', devices: 2 });
    await endSession(t.db, { agentId: agent.id, sessionId: one.sessionId, generation: one.generation, reason: 'closed' });
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', devices: 1 });
    await endSession(t.db, { agentId: agent.id, sessionId: two.sessionId, generation: two.generation, reason: 'closed' });
    expect(await agentRow(agent.id)).toMatchObject({ status: 'offline', reason: 'disconnected', devices: 0 });
    expect((await eventsOf(agent.id)).map((e) => [e.status, e.devices])).toEqual([
      ['available', 1],
      ['available', 2],
      ['available', 1],
      ['offline', 0],
    ]);
  });

  it('does not end a session that a newer connection reattached to (a reload)', async () => {
    const clientSessionId = randomUUID();
    const first = await attach(agent.id, clientSessionId);
    const again = await attach(agent.id, clientSessionId);
    expect(again.sessionId).toBe(first.sessionId);
    expect(again.generation).toBe(first.generation + 1);
    expect(again.change.changed).toBe(false); // a reattach is no change at all
    const stale = await endSession(t.db, { agentId: agent.id, sessionId: first.sessionId, generation: first.generation, reason: 'closed' });
    expect(stale.ended).toBe(false);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', devices: 1 });
    expect(await eventsOf(agent.id)).toHaveLength(1);
  });

  it('records a chosen status and keeps it across devices coming and going', async () => {
    await changeAgent(t.db, { agentId: agent.id, manual: { status: 'busy', reason: 'manual' } });
    expect(await agentRow(agent.id)).toMatchObject({ status: 'offline', devices: 0 });
    const { sessionId, generation } = await attach(agent.id);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'busy', reason: 'manual', devices: 1 });
    await endSession(t.db, { agentId: agent.id, sessionId, generation, reason: 'signed_out' });
    expect(await agentRow(agent.id)).toMatchObject({ status: 'offline' });
    const [session] = await t.sql`select end_reason from device_sessions where id = ${sessionId}`;
    expect(session?.end_reason).toBe('signed_out');
  });
});

describe('dead nodes', () => {
  it('ends every session of a node silent past the node timeout, and only those', async () => {
    const deadNode = randomUUID();
    await registerNode(t.db, { id: deadNode, name: 'dead', pid: 1 });
    const [a, b] = [agents[0]!, agents[1]!];
    const onDead = await attachSession(t.db, { agentId: a.id, deviceId: 'd', clientSessionId: randomUUID(), nodeId: deadNode, label: 'x' });
    const onLive = await attachSession(t.db, { agentId: b.id, deviceId: 'd', clientSessionId: randomUUID(), nodeId, label: 'x' });
    await t.db.execute(sql`update nodes set last_seen_at = now() - interval '16 seconds' where id = ${deadNode}`);

    const affected = await endSessionsOfDeadNodes(t.db, { graceMs: 5_000, nodeTimeoutMs: 15_000 });
    expect(affected).toEqual([{ agentId: a.id, sessionId: onDead.sessionId }]);
    const rows = await t.sql`select id, end_reason from device_sessions where id in (${onDead.sessionId}, ${onLive.sessionId})`;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.end_reason]))).toEqual({
      [onDead.sessionId]: 'node_lost',
      [onLive.sessionId]: null,
    });
  });

  it('leaves a stopped node’s sessions alone as long as a dead node’s (the node timeout, here longer than the grace), then ends them', async () => {
    const stopped = randomUUID();
    await registerNode(t.db, { id: stopped, name: 'stopping', pid: 1 });
    const s = await attachSession(t.db, { agentId: agents[2]!.id, deviceId: 'd', clientSessionId: randomUUID(), nodeId: stopped, label: 'x' });
    await t.db.execute(sql`update nodes set stopped_at = now() - interval '6 seconds' where id = ${stopped}`);
    expect(await endSessionsOfDeadNodes(t.db, { graceMs: 5_000, nodeTimeoutMs: 15_000 })).toEqual([]);
    await t.db.execute(sql`update nodes set stopped_at = now() - interval '16 seconds' where id = ${stopped}`);
    expect(await endSessionsOfDeadNodes(t.db, { graceMs: 5_000, nodeTimeoutMs: 15_000 })).toEqual([
      { agentId: agents[2]!.id, sessionId: s.sessionId },
    ]);
    const [row] = await t.sql`select end_reason from device_sessions where id = ${s.sessionId}`;
    expect(row?.end_reason).toBe('node_lost');
  });
});

describe('many changes in one commit', () => {
  it('rings the doorbell once for every agent a lost node took offline', async () => {
    const { agents: crew } = await seedTeam(t.db, { team: 'Batch', agents: 3 });
    const lost = randomUUID();
    await registerNode(t.db, { id: lost, name: 'batch-lost', pid: 1 });
    for (const agent of crew) {
      await attachSession(t.db, { agentId: agent.id, deviceId: 'd', clientSessionId: randomUUID(), nodeId: lost, label: 'x' });
    }
    await t.db.execute(sql`update nodes set last_seen_at = now() - interval '16 seconds' where id = ${lost}`);
    await endSessionsOfDeadNodes(t.db, { graceMs: 5_000, nodeTimeoutMs: 15_000 });

    const received: string[] = [];
    const listener = await t.sql.listen(presenceChannel.name, (payload) => received.push(payload));
    const results = await changeAgents(t.db, [...crew.map((a) => a.id), randomUUID()]);
    expect(results.map((r) => r.status)).toEqual(['offline', 'offline', 'offline']);
    // One more change afterwards proves the batch's single notification arrived before it.
    await changeAgent(t.db, { agentId: crew[0]!.id, manual: { status: 'away', reason: 'manual' } });
    await expect.poll(() => received.length).toBe(2);
    expect(received.map((r) => presenceChannel.parse(r))).toEqual([{ n: 3 }, { n: 1 }]);
    await listener.unlisten();
  });
});

describe('node restarts', () => {
  it('marks the earlier incarnation of a node stopped when it registers again under the same name', async () => {
    const first = randomUUID();
    const second = randomUUID();
    await registerNode(t.db, { id: first, name: 'restarting-node', pid: 1 });
    await registerNode(t.db, { id: second, name: 'restarting-node', pid: 2 });
    const rows = await t.sql`select id, stopped_at is not null as stopped from nodes where name = 'restarting-node'`;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.stopped]))).toEqual({ [first]: true, [second]: false });
  });
});

describe('a change that waits for the agent’s lock', () => {
  it('reads the devices its lock holder committed, though it sent that read before the lock was free', async () => {
    const { agents: pair } = await seedTeam(t.db, { team: 'Waiting', agents: 1 });
    const agentId = pair[0]!.id;
    const { sessionId } = await attach(agentId);
    expect(await agentRow(agentId)).toMatchObject({ status: 'available', devices: 1 });

    // Another transaction holds the agent's row and ends its only device meanwhile, without recomputing.
    let release!: () => void;
    const holding = t.sql.begin(async (tx) => {
      await tx`select 1 from agent_presence where agent_id = ${agentId} for update`;
      await tx`update device_sessions set ended_at = now(), end_reason = 'closed' where id = ${sessionId}`;
      await new Promise<void>((resolve) => (release = resolve));
    });
    await expect.poll(() => typeof release).toBe('function');
    // Pipelined behind its lock, this change's device read runs only once the holder has committed.
    const change = changeAgent(t.db, { agentId, manual: { status: 'busy', reason: 'manual' } });
    await expect
      .poll(async () => (await t.sql`select count(*)::int as n from pg_locks where not granted and locktype = 'transactionid'`)[0]!.n)
      .toBeGreaterThan(0);
    release();
    await holding;
    expect(await change).toMatchObject({ changed: true, status: 'offline' });
    expect(await agentRow(agentId)).toMatchObject({ status: 'offline', reason: 'disconnected', devices: 0 });
  });
});

describe('attaching in one statement', () => {
  it('leaves to the longer transaction an attach that turns the agent away with an offer out, which it takes back', async () => {
    const team = await seedTeam(t.db, { team: 'Attach', agents: 1 });
    const agentId = team.agents[0]!.id;
    // Chosen away while no device is connected: shown offline.
    await changeAgent(t.db, { agentId, manual: { status: 'away', reason: 'manual' } });
    expect((await agentRow(agentId))?.status).toBe('offline');
    // An offer out to them anyway (written behind routing's back, as a race could leave it).
    const [integration] = await t.sql`insert into integrations (name) values ('Attach test') returning id`;
    const [queue] = await t.sql`insert into queues (name, team_id) values ('Attach queue', ${team.teamId}) returning id`;
    const [ticket] = await t.sql`
      insert into tickets (integration_id, external_id, queue_id, channel, subject, state, agent_id, offer_id, version)
      values (${integration!.id}, 'attach-1', ${queue!.id}, 'chat', 'Hello', 'offered', ${agentId}, gen_random_uuid(), 2)
      returning id`;
    await t.sql`update agent_presence set load = '{"chat": 1}' where agent_id = ${agentId}`; // its row counts the offer, as routing keeps it
    const { change } = await attach(agentId);
    expect(change).toMatchObject({ changed: true, status: 'away' });
    expect(await agentRow(agentId)).toMatchObject({ status: 'away', devices: 1 });
    const [back] = await t.sql`select state, agent_id from tickets where id = ${ticket!.id}`;
    expect(back).toEqual({ state: 'queued', agent_id: null });
    const events = await t.sql`select type, reason from ticket_events where ticket_id = ${ticket!.id}`;
    expect(events.map((e) => [e.type, e.reason])).toEqual([['requeued', 'agent_away']]);
  });

  it('counts a reattached session once, keeps its activity, and moves its generation on', async () => {
    const team = await seedTeam(t.db, { team: 'Reattach', agents: 1 });
    const agentId = team.agents[0]!.id;
    const clientSessionId = randomUUID();
    const first = await attach(agentId, clientSessionId);
    await t.sql`update device_sessions set activity = 'idle' where id = ${first.sessionId}`;
    await changeAgent(t.db, { agentId }); // the idle device makes the agent away (idle)
    expect(await agentRow(agentId)).toMatchObject({ status: 'away', reason: 'idle', devices: 1 });
    const again = await attach(agentId, clientSessionId);
    expect(again).toMatchObject({ sessionId: first.sessionId, generation: first.generation + 1, change: { changed: false, status: 'away' } });
    expect(await agentRow(agentId)).toMatchObject({ status: 'away', reason: 'idle', devices: 1 });
    const other = await attach(agentId);
    expect(other.change).toMatchObject({ changed: true, status: 'available' });
    expect(await agentRow(agentId)).toMatchObject({ status: 'available', devices: 2 });
  });
});
