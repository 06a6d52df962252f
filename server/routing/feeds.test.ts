// An agent's open work (work.watch): applied from the ticket feed, read only
// when a ticket arrives. The pure part (OpenWork) is checked event by event;
// the whole through a real node, against the database after every step.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTicketsOf, type TicketDelta, type TicketSummary } from '../../db/queries/tickets';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import type { RunningNode } from '../node';
import { attachSession } from '../presence/store';
import { keyClient } from '../testing/clients';
import { createTestDatabase, seedTeam, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { OpenWork, watchWork } from './feeds';

const ME = 'agent-me';

const summary = (id: string, over: Partial<TicketSummary> = {}): TicketSummary => ({
  id,
  externalId: `ext-${id}`,
  queueId: 'q',
  queue: 'Queue',
  channel: 'chat',
  priority: 3,
  skills: [],
  subject: 'Help',
  url: null,
  metadata: {},
  state: 'offered',
  agent: { id: ME, name: 'Me' },
  offerExpiresAt: '2026-11-29T10:00:30.000Z',
  waitReason: null,
  createdAt: '2026-11-29T10:00:00.000Z',
  acceptedAt: null,
  endedAt: null,
  version: 2,
  ...over,
});

let nextEventId = 1;
const event = (ticketId: string, over: Partial<TicketDelta>): TicketDelta => ({
  eventId: nextEventId++,
  ticketId,
  externalId: `ext-${ticketId}`,
  integrationId: 'i',
  queueId: 'q',
  type: 'accepted',
  state: 'assigned',
  agentId: ME,
  reason: null,
  version: 3,
  at: '2026-11-29T10:00:05.000Z',
  ...over,
});

describe('OpenWork', () => {
  it('applies an acceptance from its event, without a read', async () => {
    const work = new OpenWork(ME);
    await work.read(async () => [summary('t1')]);
    expect(work.offer(event('t1', {}))).toBe(true);
    expect(work.stale).toBe(false);
    expect(work.view()).toEqual([
      summary('t1', { state: 'assigned', acceptedAt: '2026-11-29T10:00:05.000Z', offerExpiresAt: null, version: 3 }),
    ]);
  });

  it('drops a ticket that is completed, requeued or given to someone else', async () => {
    const work = new OpenWork(ME);
    await work.read(async () => [summary('t1'), summary('t2'), summary('t3')]);
    expect(work.offer(event('t1', { type: 'completed', state: 'completed' }))).toBe(true);
    expect(work.offer(event('t2', { type: 'requeued', state: 'queued', reason: 'agent_away' }))).toBe(true);
    expect(work.offer(event('t3', { type: 'offered', state: 'offered', agentId: 'someone-else' }))).toBe(true);
    expect(work.view()).toEqual([]);
    expect(work.stale).toBe(false);
  });

  it('asks for a read when a ticket is offered to the agent, and ignores other agents’ tickets', async () => {
    const work = new OpenWork(ME);
    await work.read(async () => []);
    expect(work.offer(event('t9', { type: 'offered', state: 'offered', agentId: 'someone-else' }))).toBe(false);
    expect(work.stale).toBe(false);
    expect(work.offer(event('t1', { type: 'offered', state: 'offered', version: 2 }))).toBe(true);
    expect(work.stale).toBe(true);
  });

  it('ignores an event older than the row it read', async () => {
    const work = new OpenWork(ME);
    await work.read(async () => [summary('t1', { state: 'assigned', version: 3 })]);
    expect(work.offer(event('t1', { type: 'offered', state: 'offered', version: 2 }))).toBe(false);
    expect(work.view()[0]?.state).toBe('assigned');
  });

  it('applies events that arrive during a read on top of it, whether the read saw them or not', async () => {
    const work = new OpenWork(ME);
    await work.read(async () => {
      // Committed after the read's snapshot: t1 accepted (newer than the row read), t2 completed.
      work.offer(event('t1', { version: 3 }));
      work.offer(event('t2', { type: 'completed', state: 'completed', version: 4 }));
      // Committed before it: already in the rows read.
      work.offer(event('t3', { version: 3 }));
      return [summary('t1'), summary('t2', { state: 'assigned', version: 3 }), summary('t3', { state: 'assigned', version: 3 })];
    });
    expect(work.view().map((t) => [t.id, t.state, t.version])).toEqual([
      ['t1', 'assigned', 3],
      ['t3', 'assigned', 3],
    ]);
    expect(work.stale).toBe(false);
  });

  it('reads again when more events arrived during a read than it holds', async () => {
    const work = new OpenWork(ME, 2);
    await work.read(async () => {
      for (const id of ['t1', 't2', 't3']) work.offer(event(id, { type: 'offered', state: 'offered', agentId: 'someone-else' }));
      return [];
    });
    expect(work.stale).toBe(true);
    await work.read(async () => []);
    expect(work.stale).toBe(false);
  });
});

describe('work.watch through a node', () => {
  let t: TestDatabase;
  let node: RunningNode;

  beforeAll(async () => {
    t = await createTestDatabase();
    node = await startTestNode(t.url, { ROUTING_SWEEP_MS: '60000', OFFER_TIMEOUT_MS: '60000' });
  });
  afterAll(async () => {
    await node?.stop();
    await t?.drop();
  });

  it('stays equal to the database through offers, an acceptance, a completion and a release', async () => {
    const { agents, teamId } = await seedTeam(t.db, { team: 'Work watch', agents: 1 });
    const agentId = agents[0]!.id;
    await insertQueue(t.db, { name: 'Work watch queue', teamId });
    const { key } = await createApiKey(t.db, { integration: 'Work desk', name: 'tests', scopes: ['tickets:write'] });
    const api = keyClient(node.url, key);
    await attachSession(node.services.db, { agentId, deviceId: 'd', clientSessionId: randomUUID(), nodeId: node.services.engine.nodeId, label: 'x' });

    const abort = new AbortController();
    let latest: TicketSummary[] | undefined;
    const watching = (async () => {
      for await (const view of watchWork(node.services, { agentId, signal: abort.signal })) latest = view.tickets;
    })();
    const truth = () => openTicketsOf(t.db, { agentId });
    /** Waits until the view equals the database, both read again each time (routing may still be moving). */
    const settled = async () => {
      let expected: TicketSummary[] = [];
      const same = async () => {
        expected = await truth();
        try {
          expect(latest).toEqual(expected);
          return true;
        } catch {
          return false;
        }
      };
      await expect.poll(same, { timeout: 3_000 }).toBe(true);
      return expected;
    };

    const create = () => api.tickets.create.mutate({ externalId: randomUUID(), queue: 'Work watch queue', channel: 'chat', subject: 'Help' });
    const act = (ticketId: string, action: 'accept' | 'complete' | 'release') => node.services.router.act({ agentId, ticketId, action });

    expect(await settled()).toEqual([]);
    const first = await create();
    expect((await settled()).map((x) => [x.id, x.state])).toEqual([[first.id, 'offered']]);
    await act(first.id, 'accept');
    expect((await settled()).map((x) => [x.id, x.state])).toEqual([[first.id, 'assigned']]);
    const second = await create();
    expect((await settled()).map((x) => [x.id, x.state])).toEqual([
      [first.id, 'assigned'],
      [second.id, 'offered'],
    ]);
    await act(first.id, 'complete');
    expect((await settled()).map((x) => x.id)).toEqual([second.id]);
    await act(second.id, 'accept');
    // Released, it goes back to the queue; routing may offer it to the team's only agent again,
    // now or a little later: the view follows the database either way.
    await act(second.id, 'release');
    await settled();

    abort.abort();
    await watching;
  });
});
