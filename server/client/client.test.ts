// The integrators' client against real nodes: node A a child process on a
// fixed port (so it can be stopped and started again at the same address),
// node B in this process, both on one database. The client follows the ticket
// feed through A; while A is down, tickets are created through B; the client
// must reconnect by itself and deliver exactly the events the database holds,
// in order, none twice. Then A is frozen (SIGSTOP): its socket stays open and
// silent, and the client must notice by its pings alone. Last, keys the server
// refuses (revoked while followed, or unknown): the client must end at once,
// with UNAUTHORIZED, and never connect again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { insertUser } from '../../db/queries/people';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { httpClient, keyClient, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { freePort, spawnNode, type NodeProcess } from '../testing/spawn-node';
import { signWebhook } from '../webhooks/signature';
import { createSwitchboardClient, followTicketEvents, reconnectDelayMs, TRPCClientError, verifyWebhookSignature, type AppRouter, type TicketDelta } from './index';

let t: TestDatabase;
let nodeA: NodeProcess;
let nodeB: RunningNode;
let envA: Record<string, string>;
let key: string;
let integrationId: string;

beforeAll(async () => {
  t = await createTestDatabase();
  // No agents: every ticket stays queued, so each create is one event and nothing else happens meanwhile.
  const { teamId } = await seedTeam(t.db, { team: 'Desk', agents: 0 });
  await insertQueue(t.db, { name: 'billing', teamId });
  ({ key, integrationId } = await createApiKey(t.db, { integration: 'Helpdesk', name: 'client', scopes: ['tickets:write', 'tickets:read'] }));
  envA = { DATABASE_URL: t.url, PORT: String(await freePort()), NODE_NAME: 'client-a', SEED: 'none' };
  [nodeA, nodeB] = await Promise.all([spawnNode(envA), startTestNode(t.url)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([nodeA?.stop('SIGTERM'), nodeB?.stop()]);
  await t?.drop();
}, 30_000);

const ticket = (externalId: string) => ({ externalId, queue: 'billing', channel: 'chat' as const, subject: `About ${externalId}` });

/** The integration's events after `afterId`, as the feed should have delivered them. */
async function eventsInDatabase(afterId: number): Promise<Array<{ eventId: number; ticketId: string; type: string }>> {
  const rows = await t.sql`
    select id, ticket_id, type from ticket_events where integration_id = ${integrationId} and id > ${afterId} order by id`;
  return rows.map((r) => ({ eventId: Number(r.id), ticketId: r.ticket_id as string, type: r.type as string }));
}

describe('createSwitchboardClient', () => {
  it('creates a ticket over HTTP with the key, without opening a socket', async () => {
    const opened: boolean[] = [];
    const client = createSwitchboardClient({ url: `${nodeA.url}/`, apiKey: key, onConnection: (open) => opened.push(open) });
    try {
      const created = await client.api.tickets.create.mutate(ticket('http-1'));
      expect(created).toMatchObject({ externalId: 'http-1', channel: 'chat', priority: 3 });
      const [row] = await t.sql`select external_id, subject from tickets where id = ${created.id}`;
      expect(row).toEqual({ external_id: 'http-1', subject: 'About http-1' });
      expect(opened).toEqual([]);
      expect(client.connected()).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('answers a bad input with BAD_REQUEST naming the field', async () => {
    const client = createSwitchboardClient({ url: nodeA.url, apiKey: key });
    try {
      const error = await client.api.tickets.create.mutate({ ...ticket('http-2'), channel: 'fax' as 'chat' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TRPCClientError);
      const { data, message } = error as TRPCClientError<AppRouter>;
      expect(data?.code).toBe('BAD_REQUEST');
      expect(data?.httpStatus).toBe(400);
      expect((data as { issues?: Array<{ field: string }> }).issues?.map((i) => i.field)).toEqual(['channel']);
      expect(message).toContain('channel');
      expect(await t.sql`select 1 from tickets where external_id = 'http-2'`).toHaveLength(0);
    } finally {
      await client.close();
    }
  });

  it('refuses a wrong key with UNAUTHORIZED', async () => {
    const client = createSwitchboardClient({ url: nodeA.url, apiKey: 'sbk_not-a-key' });
    const error = await client.api.tickets.list.query().catch((e: unknown) => e);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    await client.close();
  });
});

describe('followTicketEvents', () => {
  it('replays from a stored id, then resumes across a restart of its node with every event once and in order', async () => {
    const desk = keyClient(nodeB.url, key);
    await desk.tickets.create.mutate(ticket('before-start'));
    const [{ start }] = (await t.sql`select max(id)::int as start from ticket_events where integration_id = ${integrationId}`) as unknown as [{ start: number }];
    // Made after the stored id and before the client exists: the replay must bring it.
    await desk.tickets.create.mutate(ticket('while-away'));

    const connection: boolean[] = [];
    const received: TicketDelta[] = [];
    const fromNow: TicketDelta[] = [];
    const client = createSwitchboardClient({ url: nodeA.url, apiKey: key, onConnection: (open) => connection.push(open) });
    const follower = followTicketEvents(client, { lastEventId: start, onEvent: (event) => received.push(event) });
    let nowFollower: ReturnType<typeof followTicketEvents> | undefined;
    try {
      await expect.poll(() => received.map((e) => e.externalId)).toEqual(['while-away']);
      expect(connection).toEqual([true]);
      expect(client.connected()).toBe(true);

      await desk.tickets.create.mutate(ticket('live-1'));
      await expect.poll(() => received.map((e) => e.externalId)).toEqual(['while-away', 'live-1']);

      // Started now, with no event before the outage: it must still know where it stood.
      const [{ now }] = (await t.sql`select max(id)::int as now from ticket_events`) as unknown as [{ now: number }];
      const resyncs: number[] = [];
      nowFollower = followTicketEvents(client, { onEvent: (event) => fromNow.push(event), onResync: (id) => resyncs.push(id) });
      await expect.poll(() => nowFollower!.lastEventId()).toBe(String(now));

      expect(await nodeA.stop('SIGTERM')).toBe(0);
      await expect.poll(() => connection).toEqual([true, false]);
      const outage = ['down-1', 'down-2', 'down-3', 'down-4', 'down-5'];
      for (const externalId of outage) await desk.tickets.create.mutate(ticket(externalId));

      nodeA = await spawnNode(envA);
      await expect.poll(() => connection, { timeout: 15_000 }).toEqual([true, false, true]);
      await desk.tickets.create.mutate(ticket('live-2'));

      const expected = await eventsInDatabase(start);
      expect(expected).toHaveLength(8);
      await expect.poll(() => received.length, { timeout: 10_000 }).toBe(expected.length);
      expect(received.map((e) => ({ eventId: e.eventId, ticketId: e.ticketId, type: e.type }))).toEqual(expected);
      expect(received.map((e) => e.externalId)).toEqual(['while-away', 'live-1', ...outage, 'live-2']);
      expect(follower.lastEventId()).toBe(String(expected.at(-1)!.eventId));
      await expect.poll(() => fromNow.map((e) => e.externalId)).toEqual([...outage, 'live-2']);
      expect(resyncs).toEqual([]);
    } finally {
      follower.unsubscribe();
      nowFollower?.unsubscribe();
      await client.close();
    }
    expect(client.connected()).toBe(false);
  }, 40_000);

  it('notices a node that stops answering, and resumes once it answers again', async () => {
    const connection: Array<{ open: boolean; at: number }> = [];
    const received: TicketDelta[] = [];
    const t0 = Date.now();
    const client = createSwitchboardClient({ url: nodeA.url, apiKey: key, onConnection: (open) => connection.push({ open, at: Date.now() - t0 }) });
    const follower = followTicketEvents(client, { onEvent: (event) => received.push(event) });
    try {
      await expect.poll(() => follower.lastEventId()).toBeDefined();
      // Frozen, not closed: its sockets stay open and silent, as when a host or a network path dies.
      nodeA.child.kill('SIGSTOP');
      await expect.poll(() => connection.map((c) => c.open), { timeout: 30_000, interval: 250 }).toEqual([true, false]);
      // 15 s without a message, a ping, 5 s without its answer, 2 s for the close.
      expect(connection[1]!.at).toBeGreaterThan(20_000);
      await keyClient(nodeB.url, key).tickets.create.mutate(ticket('frozen-1'));
      nodeA.child.kill('SIGCONT');
      await expect.poll(() => received.map((e) => e.externalId), { timeout: 10_000 }).toEqual(['frozen-1']);
      expect(connection.map((c) => c.open)).toEqual([true, false, true]);
    } finally {
      nodeA.child.kill('SIGCONT');
      follower.unsubscribe();
      await client.close();
    }
  }, 40_000);

  it('reports a resync when the stored id is not in the log', async () => {
    const resyncs: number[] = [];
    const received: TicketDelta[] = [];
    const client = createSwitchboardClient({ url: nodeB.url, apiKey: key });
    const [{ latest }] = (await t.sql`select max(id)::int as latest from ticket_events`) as unknown as [{ latest: number }];
    const follower = followTicketEvents(client, { lastEventId: latest + 1_000, onEvent: (e) => received.push(e), onResync: (id) => resyncs.push(id) });
    try {
      await expect.poll(() => resyncs).toEqual([latest]);
      expect(follower.lastEventId()).toBe(String(latest));
      await keyClient(nodeB.url, key).tickets.create.mutate(ticket('after-resync'));
      await expect.poll(() => received.map((e) => e.externalId)).toEqual(['after-resync']);
    } finally {
      follower.unsubscribe();
      await client.close();
    }
  });
});

describe('a key the server refuses', () => {
  /** A client whose every socket (the first, and each reconnect attempt) is counted. */
  function countingClient(url: string, apiKey: string) {
    const counter = { sockets: 0 };
    class CountingSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[], options?: WebSocket.ClientOptions) {
        super(address, protocols, options);
        counter.sockets++;
      }
    }
    // The cast: ws's constructor also takes a null address (a server's socket), which a client never passes.
    return { client: createSwitchboardClient({ url, apiKey, WebSocket: CountingSocket as typeof WebSocket }), counter };
  }
  /** Several reconnects' worth at the backoff's pace (125–250 ms, then 250–500, 500–1,000…): long enough to see one. */
  const RECONNECTS_WINDOW_MS = 2_000;

  it('ends the feed with UNAUTHORIZED when the key is revoked, fails later calls with it, and never reconnects', async () => {
    const revocable = await createApiKey(t.db, { integration: 'Helpdesk', name: 'to revoke', scopes: ['tickets:read'] });
    const email = 'admin@client.test';
    await insertUser(t.db, { email, name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
    const admin = httpClient(nodeB.url, await signIn(nodeB.url, email, TEST_PASSWORD));
    const { client, counter } = countingClient(nodeB.url, revocable.key);
    const errors: TRPCClientError<AppRouter>[] = [];
    const follower = followTicketEvents(client, { onEvent: () => {}, onError: (error) => errors.push(error) });
    try {
      await expect.poll(() => follower.lastEventId()).toBeDefined();
      expect(counter.sockets).toBe(1);
      await admin.keys.revoke.mutate({ id: revocable.id });
      await expect.poll(() => errors.length).toBe(1);
      expect(errors[0]).toBeInstanceOf(TRPCClientError);
      expect(errors[0]!.data?.code).toBe('UNAUTHORIZED');
      expect(errors[0]!.message).toBe(
        'The API key was revoked or has expired (Switchboard closed the socket, code 4003); this client makes no more calls; create one with a valid key',
      );
      expect(client.ended()).toBe(errors[0]);
      expect(client.connected()).toBe(false);

      await new Promise((resolve) => setTimeout(resolve, RECONNECTS_WINDOW_MS));
      expect(counter.sockets).toBe(1);
      expect(errors).toHaveLength(1);
      // Later calls fail at once with the same error, over HTTP and over the socket, which stays closed.
      await expect(client.api.tickets.list.query()).rejects.toBe(errors[0]);
      const again: TRPCClientError<AppRouter>[] = [];
      followTicketEvents(client, { onEvent: () => {}, onError: (error) => again.push(error) });
      expect(again).toEqual([errors[0]]);
      expect(counter.sockets).toBe(1);
    } finally {
      follower.unsubscribe();
      await client.close();
    }
  });

  it('ends at the first socket when the key is unknown, instead of reconnecting for ever', async () => {
    const { client, counter } = countingClient(nodeB.url, 'sbk_not-a-key');
    const errors: TRPCClientError<AppRouter>[] = [];
    const follower = followTicketEvents(client, { onEvent: () => {}, onError: (error) => errors.push(error) });
    try {
      await expect.poll(() => client.ended()).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, RECONNECTS_WINDOW_MS));
      expect(counter.sockets).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBe(client.ended());
      expect(errors[0]!.data?.code).toBe('UNAUTHORIZED');
      expect(errors[0]!.message).toBe(
        'The API key is not valid: unknown, revoked or expired (Switchboard refused the socket); this client makes no more calls; create one with a valid key',
      );
      await expect(client.api.tickets.list.query()).rejects.toBe(client.ended());
    } finally {
      follower.unsubscribe();
      await client.close();
    }
  });
});

describe('the shared pieces', () => {
  it('verifies a webhook signature from the same import', () => {
    const body = '{"eventId":1}';
    const now = 1_800_000_000;
    expect(verifyWebhookSignature('whsec_x', signWebhook('whsec_x', now, body), String(now), body, 300, now)).toBe(true);
    expect(verifyWebhookSignature('whsec_y', signWebhook('whsec_x', now, body), String(now), body, 300, now)).toBe(false);
  });

  it('backs off exponentially up to 5 s, jittered between half and all of it', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => reconnectDelayMs(n, () => 0))).toEqual([125, 250, 500, 1_000, 2_000, 2_500, 2_500]);
    expect([0, 1, 4, 5].map((n) => reconnectDelayMs(n, () => 0.999_999))).toEqual([250, 500, 4_000, 5_000].map((ms) => expect.closeTo(ms, 0)));
  });
});
