// Integration: the presence engine of one real node, driven by real WebSocket
// clients, on a real database. Time is never slept through: leases and node
// deaths are made by backdating rows, then the sweep is run.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { startTestNode } from '../testing/node';
import { presenceChannel } from '../realtime/channels';
import { httpClient, openDevice, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { sweepPresence } from './sweep';

let t: TestDatabase;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;
let other: Awaited<ReturnType<typeof seedTeam>>;
let nextAgent = 0;

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Engine', agents: 10 });
  other = await seedTeam(t.db, { team: 'Other', agents: 1 });
  node = await startTestNode(t.url, { DISCONNECT_GRACE_MS: '200' });
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

/** Each test takes a fresh agent, signed in. */
async function freshAgent() {
  const agent = team.agents[nextAgent++]!;
  return { ...agent, cookie: await signIn(node.url, agent.email, TEST_PASSWORD) };
}
const presence = async (agentId: string) =>
  (await t.sql`select status, reason, devices from agent_presence where agent_id = ${agentId}`)[0];
const events = (agentId: string) =>
  t.sql`select status, reason, devices from presence_events where agent_id = ${agentId} order by id`;

describe('heartbeats', () => {
  it('cost no NOTIFY, no event and no per-heartbeat write: one flush writes them all', async () => {
    const agent = await freshAgent();
    const devices = await Promise.all([1, 2, 3].map(() => openDevice(node.url, agent.cookie)));
    const notified: string[] = [];
    const listening = await t.sql.listen(presenceChannel.name, (p) => notified.push(p));
    await node.services.engine.flush();
    const eventsBefore = (await events(agent.id)).length;
    const before = { ...node.services.engine.stats };
    await t.db.execute(sql`update device_sessions set last_seen_at = now() - interval '30 seconds' where agent_id = ${agent.id}`);

    for (let round = 0; round < 20; round++) await Promise.all(devices.map((d) => d.heartbeat()));
    const stats = node.services.engine.stats;
    expect(stats.heartbeats - before.heartbeats).toBe(60);
    expect(stats.flushes - before.flushes).toBeLessThanOrEqual(1); // none yet, or one by the 1 s timer
    await node.services.engine.flush();
    expect(node.services.engine.stats.flushes - before.flushes).toBeLessThanOrEqual(2);

    const seen = await t.sql`select extract(epoch from now() - last_seen_at) as age from device_sessions
                              where agent_id = ${agent.id} and ended_at is null`;
    expect(seen.map((r) => Number(r.age) < 5)).toEqual([true, true, true]);
    expect(await events(agent.id)).toHaveLength(eventsBefore);
    expect(notified).toEqual([]);
    await listening.unlisten();
    await Promise.all(devices.map((d) => d.close()));
  });

  it('turns an agent away (idle) when every device reports idle, and available on the first active one', async () => {
    const agent = await freshAgent();
    const [a, b] = [await openDevice(node.url, agent.cookie), await openDevice(node.url, agent.cookie)];
    await a.heartbeat('idle');
    expect(await presence(agent.id)).toMatchObject({ status: 'available', devices: 2 });
    await b.heartbeat('idle');
    expect(await presence(agent.id)).toMatchObject({ status: 'away', reason: 'idle' });
    await a.heartbeat('active');
    expect(await presence(agent.id)).toMatchObject({ status: 'available', reason: 'manual' });
    expect((await events(agent.id)).map((e) => `${e.status}/${e.reason}/${e.devices}`)).toEqual([
      'available/manual/1',
      'available/manual/2',
      'away/idle/2',
      'available/manual/2',
    ]);
    await Promise.all([a.close(), b.close()]);
  });

  it('answers a heartbeat for a session this connection does not hold with NOT_FOUND, and one over HTTP with BAD_REQUEST', async () => {
    const agent = await freshAgent();
    const device = await openDevice(node.url, agent.cookie);
    await expect(device.trpc.presence.heartbeat.mutate({ sessionId: crypto.randomUUID() })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
    });
    await expect(httpClient(node.url, agent.cookie).presence.heartbeat.mutate({ sessionId: device.sessionId })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST' },
    });
    await device.close();
  });
});

describe('every way a device goes', () => {
  it('lease expiry: the sweep ends a session silent past the TTL (timeout) and tells its tab', async () => {
    const agent = await freshAgent();
    const device = await openDevice(node.url, agent.cookie);
    await node.services.engine.flush();
    await t.db.execute(sql`update device_sessions set last_seen_at = now() - interval '46 seconds' where id = ${device.sessionId}`);
    const result = await sweepPresence(node.services.db, node.services.env);
    expect(result.timedOut).toBe(1);
    expect(await presence(agent.id)).toMatchObject({ status: 'offline', reason: 'disconnected', devices: 0 });
    const [row] = await t.sql`select end_reason from device_sessions where id = ${device.sessionId}`;
    expect(row?.end_reason).toBe('timeout');
    await expect.poll(() => device.events.at(-1)).toEqual({ type: 'ended', reason: 'timeout' });
    await device.close();
  });

  it('node death: the sweep ends every session of a node silent past the node timeout (node_lost)', async () => {
    const agent = await freshAgent();
    const device = await openDevice(node.url, agent.cookie);
    // Make this node look dead for a moment: its row not renewed for 16 s.
    await t.db.execute(sql`update nodes set last_seen_at = now() - interval '16 seconds' where id = ${node.nodeId}`);
    const result = await sweepPresence(node.services.db, node.services.env);
    await t.db.execute(sql`update nodes set last_seen_at = now() where id = ${node.nodeId}`);
    expect(result.nodeLost).toBeGreaterThanOrEqual(1);
    const [row] = await t.sql`select end_reason from device_sessions where id = ${device.sessionId}`;
    expect(row?.end_reason).toBe('node_lost');
    expect(await presence(agent.id)).toMatchObject({ status: 'offline' });
    await expect.poll(() => device.events.at(-1)).toEqual({ type: 'ended', reason: 'node_lost' });
    await device.close();
  });

  it('sign-out of one browser ends its device sessions (signed_out) and closes its sockets; the other browser stays', async () => {
    const agent = await freshAgent();
    const otherBrowser = await signIn(node.url, agent.email, TEST_PASSWORD);
    const here = await openDevice(node.url, agent.cookie);
    const there = await openDevice(node.url, otherBrowser);
    await httpClient(node.url, agent.cookie).auth.logout.mutate();
    await expect.poll(async () => presence(agent.id)).toMatchObject({ status: 'available', devices: 1 });
    const rows = await t.sql`select id, end_reason from device_sessions where agent_id = ${agent.id} order by connected_at`;
    expect(rows.map((r) => r.end_reason)).toEqual(['signed_out', null]);
    await expect.poll(() => here.events.at(-1)).toEqual({ type: 'ended', reason: 'signed_out' });
    expect(there.events.at(-1)?.type).toBe('attached');
    expect(node.services.engine.hosts(agent.id)).toBe(true); // the other browser's device is still here
    await Promise.all([here.close(), there.close()]);
  });

  it('sign-out everywhere ends every device session of the agent', async () => {
    const agent = await freshAgent();
    const otherBrowser = await signIn(node.url, agent.email, TEST_PASSWORD);
    const devices = [await openDevice(node.url, agent.cookie), await openDevice(node.url, otherBrowser)];
    expect(node.services.engine.hosts(agent.id)).toBe(true);
    await httpClient(node.url, agent.cookie).auth.logoutEverywhere.mutate();
    expect(await presence(agent.id)).toMatchObject({ status: 'offline', devices: 0 });
    for (const d of devices) await expect.poll(() => d.events.at(-1)).toEqual({ type: 'ended', reason: 'signed_out' });
    expect(node.services.engine.hosts(agent.id)).toBe(false); // routing no longer counts this node as the agent's
    const me = await httpClient(node.url, otherBrowser).auth.me.query();
    expect(me.user).toBeNull();
    await Promise.all(devices.map((d) => d.close()));
  });

  it('a supervisor forces an agent offline (forced, with who and why); another team’s supervisor cannot', async () => {
    const agent = await freshAgent();
    const device = await openDevice(node.url, agent.cookie);
    const outsider = httpClient(node.url, await signIn(node.url, other.supervisor.email, TEST_PASSWORD));
    await expect(outsider.presence.force.mutate({ agentId: agent.id, status: 'offline' })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
    });
    const supervisor = httpClient(node.url, await signIn(node.url, team.supervisor.email, TEST_PASSWORD));
    await supervisor.presence.force.mutate({ agentId: agent.id, status: 'offline', note: 'end of shift' });
    expect(await presence(agent.id)).toMatchObject({ status: 'offline', reason: 'forced', devices: 0 });
    await expect.poll(() => device.events.at(-1)).toEqual({ type: 'ended', reason: 'forced' });
    const [event] = await t.sql`select e.reason, e.note, u.email as actor from presence_events e join users u on u.id = e.actor_id
                                 where e.agent_id = ${agent.id} order by e.id desc limit 1`;
    expect(event).toEqual({ reason: 'forced', note: 'end of shift', actor: team.supervisor.email });
    const [session] = await t.sql`select end_reason from device_sessions where id = ${device.sessionId}`;
    expect(session?.end_reason).toBe('forced');
    const { rows } = await supervisor.roster.list.query({});
    expect(rows.find((r) => r.agentId === agent.id)).toMatchObject({ reason: 'forced', forcedBy: 'Engine supervisor 1', note: 'end of shift' });
    await device.close();
  });
});
