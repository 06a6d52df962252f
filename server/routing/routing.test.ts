// Integration: routing against a real PostgreSQL and a real node — offers at
// creation, idempotent creation, capacity and priority, accept/complete freeing
// capacity, offer timeouts (exactly once) and missed-offer auto-away, re-routing
// when an agent goes offline, auto-accept queues, and the explanation of each claim.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQueue, setCapacity, setSkills } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import type { RunningNode } from '../node';
import { attachSession, changeAgent, endSession } from '../presence/store';
import { keyClient } from '../testing/clients';
import { createTestDatabase, seedTeam, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';

let t: TestDatabase;
let node: RunningNode;
let api: ReturnType<typeof keyClient>;
const OFFER_TIMEOUT_MS = 700;

beforeAll(async () => {
  t = await createTestDatabase();
  node = await startTestNode(t.url, {
    OFFER_TIMEOUT_MS: String(OFFER_TIMEOUT_MS),
    MISSED_OFFERS_LIMIT: '2',
    ROUTING_SWEEP_MS: '60000',
    ASSIGNED_REQUEUE_AFTER_MS: '60000',
  });
  const { key } = await createApiKey(t.db, { integration: 'Test desk', name: 'tests', scopes: ['tickets:write', 'tickets:read'] });
  api = keyClient(node.url, key);
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

/** A team with its own queue; agents start offline. */
async function team(agents: number, queue: Parameters<typeof insertQueue>[1] extends infer P ? Partial<P> : never = {}) {
  const name = `Team ${randomUUID().slice(0, 8)}`;
  const seeded = await seedTeam(t.db, { team: name, agents });
  const q = await insertQueue(t.db, { name: `${name} queue`, teamId: seeded.teamId, ...queue });
  return { ...seeded, queue: `${name} queue`, queueId: q.id };
}

/** Connects a device for the agent (on this node), which makes them available. */
async function online(agentId: string) {
  const attached = await attachSession(node.services.db, {
    agentId,
    deviceId: 'test-device',
    clientSessionId: randomUUID(),
    nodeId: node.services.engine.nodeId,
    label: 'Test device',
  });
  return () => endSession(node.services.db, { agentId, sessionId: attached.sessionId, generation: attached.generation, reason: 'closed' });
}

const create = (queue: string, over: Record<string, unknown> = {}) =>
  api.tickets.create.mutate({ externalId: randomUUID(), queue, channel: 'chat', subject: 'Help', ...over });

const stateOf = async (id: string) => {
  const ticket = await api.tickets.get.query({ id });
  return { state: ticket.state, agentId: ticket.agent?.id ?? null };
};

/** The ticket's events as [type, reason], oldest first. */
const typesAndReasons = async (ticketId: string) =>
  (await t.sql`select type, reason from ticket_events where ticket_id = ${ticketId} order by id`).map((e) => [e.type, e.reason]);

const agentAct = (agentId: string, ticketId: string, action: 'accept' | 'decline' | 'complete' | 'release') =>
  node.services.router.act({ agentId, ticketId, action });

describe('offers', () => {
  it('offers a new ticket at once to the agent with most spare capacity, and explains every skip', async () => {
    const { agents, queue } = await team(3);
    const [busy, free, away] = [agents[0]!, agents[1]!, agents[2]!];
    await online(busy.id);
    await online(free.id);
    await online(away.id);
    await changeAgent(t.db, { agentId: away.id, manual: { status: 'away', reason: 'manual' } });
    const first = await create(queue);
    // busy is offered first or free is: whichever, it now has load 1; the next goes to the other.
    const firstHolder = (await stateOf(first.id)).agentId;
    const second = await create(queue);
    const detail = await api.tickets.get.query({ id: second.id });
    expect(detail.state).toBe('offered');
    expect(detail.agent?.id).not.toBe(firstHolder);
    expect([busy.id, free.id]).toContain(detail.agent?.id);

    const offered = detail.events.find((e) => e.type === 'offered');
    const explanation = offered?.explanation as {
      considered: Array<{ agentId: string; eligible: boolean; reason?: string }>;
      counts: Record<string, number>;
      why: string;
      winnerName: string;
    };
    // Agents not available are counted; the candidates are listed, best first.
    expect(explanation.counts).toEqual({ eligible: 2, not_available: 1, at_capacity: 0, missing_skill: 0 });
    expect(explanation.considered.map((c) => c.agentId)).toEqual([detail.agent?.id, firstHolder]);
    expect(explanation.why).toMatch(/most spare capacity \(3\) of 2 eligible/);
    expect(explanation.winnerName).toBe(detail.agent?.name);
  });

  it('keeps what the ticketing system sent, and offers a ticket that needs a skill only to an agent who has it', async () => {
    const { agents, queue } = await team(2);
    const [plain, speaker] = [agents[0]!, agents[1]!];
    await setSkills(t.db, { agentId: speaker.id, skills: ['de', 'billing'] });
    await online(plain.id);
    await online(speaker.id);
    const sent = { skills: ['de'], priority: 2, url: 'https://desk.example/t/42', metadata: { crm: { id: 7, tags: ['vip'] }, note: 'ä "quoted"' } };
    const ticket = await create(queue, { ...sent, subject: 'Rechnung' });
    const detail = await api.tickets.get.query({ id: ticket.id });
    expect({ skills: detail.skills, priority: detail.priority, url: detail.url, metadata: detail.metadata, subject: detail.subject }).toEqual({
      ...sent,
      subject: 'Rechnung',
    });
    expect(detail.agent?.id).toBe(speaker.id);
    // Without skills the same queue offers to whoever has most room: the speaker now holds one, so the other agent.
    const open = await create(queue);
    expect((await api.tickets.get.query({ id: open.id })).skills).toEqual([]);
    expect((await stateOf(open.id)).agentId).toBe(plain.id);
  });

  it('gives 50 concurrent identical creates one ticket and 50 equal answers', async () => {
    const { queue } = await team(1);
    const call = { externalId: `same-${randomUUID()}`, queue, channel: 'email' as const, subject: 'Invoice', priority: 2 };
    const answers = await Promise.all(Array.from({ length: 50 }, () => api.tickets.create.mutate(call)));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    const rows = await t.sql`select count(*)::int as n from tickets where external_id = ${call.externalId}`;
    expect(rows[0]?.n).toBe(1);
  });

  it('keeps a ticket queued while the only agent is at capacity, and offers it the moment capacity frees', async () => {
    const { agents, queue } = await team(1);
    const agent = agents[0]!;
    await setCapacity(t.db, { agentId: agent.id, capacity: { chat: 1 } });
    await online(agent.id);
    const first = await create(queue);
    expect(await stateOf(first.id)).toEqual({ state: 'offered', agentId: agent.id });
    await agentAct(agent.id, first.id, 'accept');
    const low = await create(queue, { priority: 4 });
    const urgent = await create(queue, { priority: 1 });
    const waiting = await api.tickets.get.query({ id: urgent.id });
    expect(waiting).toMatchObject({ state: 'queued', waitReason: '1 at capacity' });

    await agentAct(agent.id, first.id, 'complete');
    // The most urgent goes first, though it was created later.
    await expect.poll(() => stateOf(urgent.id), { timeout: 3_000 }).toEqual({ state: 'offered', agentId: agent.id });
    expect((await stateOf(low.id)).state).toBe('queued');
  });

  it('claims nothing when capacity frees and nothing waits, yet the sweep claims a ticket the feed never showed', async () => {
    const { agents, queue, queueId } = await team(1);
    const agent = agents[0]!;
    await online(agent.id);
    const claims = () => node.services.router.claimsByQueue.get(queueId) ?? 0;
    const skipped = () => node.services.router.stats.skippedClaims;
    const ticket = await create(queue);
    expect(await stateOf(ticket.id)).toEqual({ state: 'offered', agentId: agent.id });
    const [claimsBefore, skippedBefore] = [claims(), skipped()];
    await agentAct(agent.id, ticket.id, 'accept');
    await agentAct(agent.id, ticket.id, 'complete');
    // The completion reaches the router through the feed and kicks the queue: the claim is skipped.
    await expect.poll(skipped, { timeout: 3_000 }).toBeGreaterThan(skippedBefore);
    expect(claims()).toBe(claimsBefore);

    // A queued ticket no event announced (written behind the router's back): only the sweep can know of it.
    const [integration] = await t.sql<Array<{ id: string }>>`select id from integrations where name = 'Test desk'`;
    const [hidden] = await t.sql<Array<{ id: string }>>`
      insert into tickets (integration_id, external_id, queue_id, channel, subject, wait_reason)
      values (${integration!.id}, ${randomUUID()}, ${queueId}, 'chat', 'Unannounced', 'just created') returning id`;
    await node.services.router.sweep();
    expect(await stateOf(hidden!.id)).toEqual({ state: 'offered', agentId: agent.id });
    expect(claims()).toBeGreaterThan(claimsBefore);
  });

  it('answers an agent acting on a ticket not theirs with NOT_FOUND, and a wrong state with CONFLICT', async () => {
    const { agents, queue } = await team(2);
    await online(agents[0]!.id);
    const ticket = await create(queue);
    await expect(agentAct(agents[1]!.id, ticket.id, 'accept')).rejects.toThrow(/no such ticket/);
    await expect(agentAct(agents[0]!.id, ticket.id, 'complete')).rejects.toThrow(/needs it assigned/);
  });
});

describe('a node flooded with creates', () => {
  it('refuses creates beyond its limit with 429 and Retry-After, and a retry of the same call creates each ticket once', async () => {
    const { agents, queue } = await team(1);
    await online(agents[0]!.id);
    const busy = await startTestNode(t.url, { NODE_NAME: 'routing-test-busy', CREATES_IN_FLIGHT: '2', ROUTING_SWEEP_MS: '60000' });
    try {
      const { key } = await createApiKey(t.db, { integration: `Flood ${randomUUID().slice(0, 8)}`, name: 'flood', scopes: ['tickets:write'] });
      const send = (externalId: string) =>
        fetch(`${busy.url}/api/trpc/tickets.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ externalId, queue, channel: 'chat', subject: 'Flood' }),
        });
      const ids = Array.from({ length: 30 }, (_, i) => `flood-${i}`);
      const first = await Promise.all(ids.map(async (id) => ({ id, res: await send(id) })));
      const refused = first.filter((f) => f.res.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]!.res.headers.get('retry-after')).toBe('1');
      expect(JSON.stringify(await refused[0]!.res.json())).toMatch(/tickets\.create: this node is creating 2 tickets already/);
      expect(first.every((f) => f.res.status === 200 || f.res.status === 429)).toBe(true);
      // Everyone sends again until answered: one ticket per external id, none lost, none doubled.
      for (let pending = refused.map((r) => r.id); pending.length; ) {
        const again = await Promise.all(pending.map(async (id) => ({ id, res: await send(id) })));
        pending = again.filter((a) => a.res.status === 429).map((a) => a.id);
      }
      const rows = await t.sql`select external_id from tickets where external_id like 'flood-%' and queue_id = (select id from queues where name = ${queue})`;
      expect(rows.map((r) => r.external_id).sort()).toEqual([...ids].sort());
      expect(busy.services.router.stats.refusedCreates).toBeGreaterThanOrEqual(refused.length);
      const health = await fetch(`${busy.url}/api/trpc/tickets.create`, { method: 'POST' });
      expect(health.status).toBeLessThan(500); // still up, answering
    } finally {
      await busy.stop();
    }
  });
});

describe('timeouts and re-routing', () => {
  it('ends an unanswered offer exactly once, and sets the agent away after two missed in a row', async () => {
    const { agents, queue } = await team(1);
    const agent = agents[0]!;
    await online(agent.id);
    const ticket = await create(queue);
    expect((await stateOf(ticket.id)).agentId).toBe(agent.id);
    // Offered, expired, offered again (the only agent), expired again: away (missed_offers).
    await expect
      .poll(async () => (await t.sql`select status, reason from agent_presence where agent_id = ${agent.id}`)[0], { timeout: 5_000 })
      .toEqual({ status: 'away', reason: 'missed_offers' });
    expect(await stateOf(ticket.id)).toEqual({ state: 'queued', agentId: null });
    // The pg-boss jobs for both offers run after the timers did: they must change nothing.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const events = await t.sql`select type from ticket_events where ticket_id = ${ticket.id} order by id`;
    expect(events.map((e) => e.type)).toEqual(['created', 'offered', 'offer_expired', 'offered', 'offer_expired']);
  });

  it('ends an offer by its pg-boss job when the node that made it is gone before the deadline', async () => {
    const { agents, queue } = await team(1);
    const agent = agents[0]!;
    // The agent's device is on this node; the ticket is created (and offered) through another, which then stops.
    await online(agent.id);
    // A name of its own: nodes are known by name, and a node stopping ends the sessions of its name.
    const other = await startTestNode(t.url, { NODE_NAME: 'routing-test-other', OFFER_TIMEOUT_MS: String(OFFER_TIMEOUT_MS), ROUTING_SWEEP_MS: '60000' });
    const { key } = await createApiKey(t.db, { integration: `Desk ${randomUUID().slice(0, 8)}`, name: 'other', scopes: ['tickets:write'] });
    const ticket = await keyClient(other.url, key).tickets.create.mutate({ externalId: randomUUID(), queue, channel: 'chat', subject: 'Help' });
    expect((await t.sql`select agent_id from tickets where id = ${ticket.id}`)[0]?.agent_id).toBe(agent.id);
    await other.stop(); // its local timer goes with it; the job it queued stays
    const [job] = await t.sql`select data, start_after from pgboss.job where name = 'offer-expiry' and data->>'ticketId' = ${ticket.id}`;
    expect(job?.data).toMatchObject({ ticketId: ticket.id });
    // This node's worker runs the job after the deadline (and its poll): the offer ends, once.
    await expect
      .poll(async () => (await t.sql`select type from ticket_events where ticket_id = ${ticket.id} order by id`).map((e) => e.type), { timeout: 6_000 })
      .toEqual(['created', 'offered', 'offer_expired', 'offered']);
  });

  it('sends an offered ticket back at once when its agent goes offline, and on to the next agent', async () => {
    const { agents, queue } = await team(2);
    const [a, b] = [agents[0]!, agents[1]!];
    const leave = await online(a.id);
    const ticket = await create(queue);
    expect((await stateOf(ticket.id)).agentId).toBe(a.id);
    await online(b.id).then(() => undefined);
    // b became available after the offer: the ticket stays with a until a leaves.
    expect((await stateOf(ticket.id)).agentId).toBe(a.id);
    await leave();
    await expect.poll(() => stateOf(ticket.id), { timeout: 3_000 }).toEqual({ state: 'offered', agentId: b.id });
    expect(await typesAndReasons(ticket.id)).toEqual([
      ['created', null],
      ['offered', null],
      ['requeued', 'agent_offline'],
      ['offered', null],
    ]);
  });

  it('offers a declined ticket to the next agent, even one with less spare capacity, and says why', async () => {
    const { agents, queue } = await team(2);
    const [a, b] = [agents[0]!, agents[1]!];
    await online(b.id);
    const held = await create(queue);
    await agentAct(b.id, held.id, 'accept');
    await online(a.id);
    // Routing ranks from the node's memory, fed by the hub: wait until it has heard a come online.
    const [{ latest }] = (await t.sql`select max(id)::int as latest from presence_events`) as unknown as [{ latest: number }];
    await expect.poll(() => node.services.hub.lastEventId).toBeGreaterThanOrEqual(latest);
    // a has more room than b (b holds one ticket): the new ticket goes to a, who declines it.
    const ticket = await create(queue);
    expect((await stateOf(ticket.id)).agentId).toBe(a.id);
    await agentAct(a.id, ticket.id, 'decline');
    await expect.poll(() => stateOf(ticket.id), { timeout: 3_000 }).toEqual({ state: 'offered', agentId: b.id });
    const { events } = await api.tickets.get.query({ id: ticket.id });
    expect(events.map((e) => [e.type, e.agent?.id ?? null])).toEqual([
      ['created', null],
      ['offered', a.id],
      ['declined', a.id],
      ['offered', b.id],
    ]);
    expect((events[3]?.explanation as { why: string }).why).toBe('the only eligible agent who had not passed on it');
    // b declines too: a and b both passed on it, and it goes to the one with more room.
    await agentAct(b.id, ticket.id, 'decline');
    await expect.poll(() => stateOf(ticket.id), { timeout: 3_000 }).toEqual({ state: 'offered', agentId: a.id });
  });

  it('sends an offered ticket back at once when its agent chooses away, and on to the next agent', async () => {
    const { agents, queue } = await team(2);
    const [a, b] = [agents[0]!, agents[1]!];
    await online(a.id);
    const ticket = await create(queue);
    expect((await stateOf(ticket.id)).agentId).toBe(a.id);
    await online(b.id);
    // A chosen status with an offer in hand: the one-statement path must not drop the offer on the floor.
    await node.services.engine.setStatus({ agentId: a.id, status: 'away' });
    await expect.poll(() => stateOf(ticket.id), { timeout: 3_000 }).toEqual({ state: 'offered', agentId: b.id });
    expect(await typesAndReasons(ticket.id)).toEqual([
      ['created', null],
      ['offered', null],
      ['requeued', 'agent_away'],
      ['offered', null],
    ]);
    const [row] = await t.sql`select status, reason, load from agent_presence where agent_id = ${a.id}`;
    expect(row).toEqual({ status: 'away', reason: 'manual', load: {} });
  });

  it('sends an accepted ticket back once its agent has been away longer than ASSIGNED_REQUEUE_AFTER_MS, and on to the next agent', async () => {
    const { agents, queue } = await team(2);
    const [a, b] = [agents[0]!, agents[1]!];
    await online(a.id);
    const ticket = await create(queue);
    await agentAct(a.id, ticket.id, 'accept');
    await node.services.engine.setStatus({ agentId: a.id, status: 'away' });
    await online(b.id);
    // Away, but for less than the setting (a minute): the sweep leaves the ticket with its agent.
    await node.services.router.sweep();
    expect(await stateOf(ticket.id)).toEqual({ state: 'assigned', agentId: a.id });
    // Away for two minutes (backdated, not slept through): the sweep sends it back, and it goes to b.
    await t.sql`update agent_presence set since = now() - interval '2 minutes' where agent_id = ${a.id}`;
    await node.services.router.sweep();
    await expect.poll(() => stateOf(ticket.id), { timeout: 3_000 }).toEqual({ state: 'offered', agentId: b.id });
    const events = await t.sql`select type, reason, agent_id from ticket_events where ticket_id = ${ticket.id} order by id`;
    expect(events.map((e) => [e.type, e.reason, e.agent_id])).toEqual([
      ['created', null, null],
      ['offered', null, a.id],
      ['accepted', null, a.id],
      ['requeued', 'agent_away', a.id],
      ['offered', null, b.id],
    ]);
    // a's load is given back with the ticket.
    const [load] = await t.sql`select load from agent_presence where agent_id = ${a.id}`;
    expect(load?.load).toEqual({});
  });

  it('assigns at once in an auto-accept queue', async () => {
    const { agents, queue } = await team(1, { offerMode: 'auto_accept' });
    await online(agents[0]!.id);
    const ticket = await create(queue);
    expect(await stateOf(ticket.id)).toEqual({ state: 'assigned', agentId: agents[0]!.id });
  });

  it('lets the integration cancel a ticket, freeing its agent', async () => {
    const { agents, queue } = await team(1);
    await online(agents[0]!.id);
    const ticket = await create(queue);
    await agentAct(agents[0]!.id, ticket.id, 'accept');
    expect(await api.tickets.cancel.mutate({ id: ticket.id })).toEqual({ state: 'cancelled' });
    const [row] = await t.sql`select count(*)::int as n from tickets where agent_id = ${agents[0]!.id} and state in ('offered', 'assigned')`;
    expect(row?.n).toBe(0);
  });
});
