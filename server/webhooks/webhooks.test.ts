// Integration: webhooks against a real PostgreSQL, a real node and a real HTTP
// receiver — every event of each ticket arrives in order and signed; a failing
// receiver is retried with backoff and the failed attempts are in the log; the
// safety net delivers events no job was queued for; the admin API's answers
// and errors; and the signature check a receiver runs.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../../db/queries/people';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import { loadEnv } from '../env';
import { startJobs, type Jobs } from '../jobs/boss';
import { createLogger } from '../log';
import type { RunningNode } from '../node';
import { attachSession } from '../presence/store';
import { httpClient, keyClient, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { enqueueDeliveries } from './dispatcher';
import type { WebhookPayload } from './payload';
import { signWebhook, verifyWebhookSignature, webhookDeliveryId } from './signature';
import { sweepWebhooks } from './sweep';

type Received = { path: string; headers: IncomingHttpHeaders; body: string; payload: WebhookPayload; status: number };

/** A webhook receiver on a free port: records every request; answers 500 to the first `failFirst` of a path. */
async function startReceiver() {
  const received: Received[] = [];
  const failFirst = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const failures = failFirst.get(path) ?? 0;
      failFirst.set(path, Math.max(0, failures - 1));
      const status = failures > 0 ? 500 : 204;
      received.push({ path, headers: req.headers, body, payload: JSON.parse(body) as WebhookPayload, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 500 ? 'not now, try later' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    failFirst,
    /** The requests for one ticket, in arrival order. */
    of: (ticketId: string) => received.filter((r) => r.payload.ticket.id === ticketId),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let t: TestDatabase;
let node: RunningNode;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let admin: ReturnType<typeof httpClient>;
const WEBHOOK_ENV = { WEBHOOK_RETRY_DELAY_MS: '1000', WEBHOOK_RETRY_MAX_DELAY_MS: '2000', WEBHOOK_SWEEP_MS: '600000' };

beforeAll(async () => {
  t = await createTestDatabase();
  receiver = await startReceiver();
  // No offer expires and no routing sweep runs during a test: the events are the test's own.
  node = await startTestNode(t.url, { OFFER_TIMEOUT_MS: '600000', ROUTING_SWEEP_MS: '600000', ...WEBHOOK_ENV });
  const email = 'admin@webhooks.test';
  await insertUser(t.db, { email, name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  admin = httpClient(node.url, await signIn(node.url, email, TEST_PASSWORD));
});
afterAll(async () => {
  await node?.stop();
  await receiver?.close();
  await t?.drop();
});

/** An integration with an API key, a team of available agents and a queue. */
async function desk(agents: number) {
  const name = `Desk ${randomUUID().slice(0, 8)}`;
  const { key } = await createApiKey(t.db, { integration: name, name: 'tests', scopes: ['tickets:write', 'tickets:read'] });
  const team = await seedTeam(t.db, { team: `Team-${name.slice(5)}`, agents });
  const queue = `${name} queue`;
  await insertQueue(t.db, { name: queue, teamId: team.teamId });
  for (const agent of team.agents) {
    await attachSession(t.db, { agentId: agent.id, deviceId: 'test-device', clientSessionId: randomUUID(), nodeId: node.services.engine.nodeId, label: 'Test device' });
  }
  const api = keyClient(node.url, key);
  const create = () => api.tickets.create.mutate({ externalId: randomUUID(), queue, channel: 'chat', subject: 'Help' });
  return { name, api, team, create, path: `/${name.replace(' ', '-')}` };
}

const eventsOf = async (ticketId: string) =>
  (await t.sql`select id, type from ticket_events where ticket_id = ${ticketId} order by id`).map((e) => ({ eventId: Number(e.id), type: e.type as string }));

const holderOf = async (ticketId: string) => (await t.sql`select agent_id from tickets where id = ${ticketId}`)[0]?.agent_id as string;

const codeOf = (error: unknown) => (error instanceof TRPCClientError ? error.data?.code : String(error));

describe('delivery', () => {
  it('posts every event of each ticket once, in order, signed with the secret', async () => {
    const d = await desk(2);
    const set = await admin.webhooks.set.mutate({ integration: d.name, url: `${receiver.url}${d.path}` });
    expect(set.created).toBe(true);
    expect(set.secret).toMatch(/^whsec_[\w-]{43}$/);
    const secret = set.secret!;

    const [first, second, third] = [await d.create(), await d.create(), await d.create()];
    await node.services.router.act({ agentId: await holderOf(first.id), ticketId: first.id, action: 'accept' });
    await node.services.router.act({ agentId: await holderOf(first.id), ticketId: first.id, action: 'complete' });
    await node.services.router.act({ agentId: await holderOf(second.id), ticketId: second.id, action: 'decline', reason: 'not my area' });
    await d.api.tickets.cancel.mutate({ id: third.id, reason: 'solved by the customer' });
    // The declined ticket is offered again; after that, nothing changes.
    await expect.poll(async () => (await eventsOf(second.id)).map((e) => e.type), { timeout: 3_000 }).toEqual(['created', 'offered', 'declined', 'offered']);

    for (const ticket of [first, second, third]) {
      const expected = await eventsOf(ticket.id);
      await expect.poll(() => receiver.of(ticket.id).map((r) => ({ eventId: r.payload.eventId, type: r.payload.type })), { timeout: 5_000 }).toEqual(expected);
    }
    expect((await eventsOf(first.id)).map((e) => e.type)).toEqual(['created', 'offered', 'accepted', 'completed']);
    expect((await eventsOf(third.id)).map((e) => e.type)).toEqual(['created', 'offered', 'cancelled']);

    const all = receiver.received.filter((r) => r.path === d.path);
    for (const r of all) {
      expect(r.status).toBe(204);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-switchboard-delivery']).toBe(r.payload.deliveryId);
      expect(r.headers['x-switchboard-event']).toBe(r.payload.type);
      expect(verifyWebhookSignature(secret, r.headers['x-switchboard-signature'] as string, r.headers['x-switchboard-timestamp'] as string, r.body, 60)).toBe(true);
      expect(r.payload.deliveryId).toBe(webhookDeliveryId(set.webhook.id, r.payload.eventId));
    }
    expect(new Set(all.map((r) => r.payload.deliveryId)).size).toBe(all.length);

    const cancelled = receiver.of(third.id).at(-1)!.payload;
    expect(cancelled).toEqual({
      deliveryId: cancelled.deliveryId,
      eventId: cancelled.eventId,
      type: 'cancelled',
      ticket: { id: third.id, externalId: third.externalId, queueId: third.queueId, state: 'cancelled', agentId: null },
      agentId: expect.any(String),
      reason: 'solved by the customer',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const offered = receiver.of(first.id)[1]!.payload;
    expect(offered.ticket).toMatchObject({ state: 'offered', agentId: offered.agentId });

    const log = await admin.webhooks.deliveries.query({ integration: d.name, limit: 200 });
    expect(log).toHaveLength(all.length);
    expect(log.every((l) => l.status === 'delivered' && l.httpStatus === 204 && l.attempt === 1 && l.error === null)).toBe(true);
    expect(log.map((l) => l.id)).toEqual([...log.map((l) => l.id)].sort((a, b) => b - a));
  });

  it('delivers at once for a webhook set up after the node last saw that integration without one', async () => {
    const d = await desk(1);
    const before = await d.create(); // the node reads, and remembers, that this integration has no webhook
    await expect.poll(async () => (await eventsOf(before.id)).length).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 200)); // its events have passed the live path
    await admin.webhooks.set.mutate({ integration: d.name, url: `${receiver.url}${d.path}` });
    const after = await d.create();
    // Well inside the remembered answer's lifetime (10 s) and with no sweep in the test: only the change's notice explains it.
    await expect.poll(() => receiver.of(after.id).map((r) => r.payload.type), { timeout: 3_000 }).toEqual(['created', 'offered']);
    expect(receiver.of(before.id)).toEqual([]); // enabling starts after the latest event
  });

  it('retries a failing receiver with backoff, then delivers in order; the failed attempts are in the log', async () => {
    const d = await desk(1);
    receiver.failFirst.set(d.path, 2);
    await admin.webhooks.set.mutate({ integration: d.name, url: `${receiver.url}${d.path}` });
    const ticket = await d.create();
    await node.services.router.act({ agentId: await holderOf(ticket.id), ticketId: ticket.id, action: 'accept' });
    const expected = await eventsOf(ticket.id);
    expect(expected.map((e) => e.type)).toEqual(['created', 'offered', 'accepted']);

    const delivered = () => receiver.of(ticket.id).filter((r) => r.status === 204).map((r) => r.payload.eventId);
    await expect.poll(delivered, { timeout: 12_000, interval: 200 }).toEqual(expected.map((e) => e.eventId));

    // Every request: the first event twice refused, then each event once, in order.
    const requests = receiver.of(ticket.id);
    expect(requests.map((r) => [r.payload.type, r.status])).toEqual([
      ['created', 500],
      ['created', 500],
      ['created', 204],
      ['offered', 204],
      ['accepted', 204],
    ]);
    expect(new Set(requests.slice(0, 3).map((r) => r.payload.deliveryId)).size).toBe(1);
    const log = (await admin.webhooks.deliveries.query({ integration: d.name })).reverse();
    expect(log.map((l) => [l.eventType, l.attempt, l.status, l.httpStatus])).toEqual([
      ['created', 1, 'failed', 500],
      ['created', 2, 'failed', 500],
      ['created', 3, 'delivered', 204],
      ['offered', 1, 'delivered', 204],
      ['accepted', 1, 'delivered', 204],
    ]);
    expect(log[0]!.error).toBe('HTTP 500: not now, try later');
    expect(log.slice(0, 3).map((l) => l.deliveryId)).toEqual(Array(3).fill(requests[0]!.payload.deliveryId));
    // Backoff: a retry waits at least WEBHOOK_RETRY_DELAY_MS, though a new event came meanwhile.
    expect(new Date(log[1]!.startedAt).getTime() - new Date(log[0]!.at).getTime()).toBeGreaterThanOrEqual(900);
    expect((await admin.webhooks.get.query({ integration: d.name }))?.failingTickets).toBe(0);
  });

  it('delivers, from the safety net, an event no job was queued for', async () => {
    const d = await desk(1);
    await admin.webhooks.set.mutate({ integration: d.name, url: `${receiver.url}${d.path}` });
    const ticket = await d.create();
    await expect.poll(() => receiver.of(ticket.id).length, { timeout: 5_000 }).toBe(2);
    // An event committed without ringing the doorbell: no node's hub sees it, so no job is queued.
    await t.sql`
      insert into ticket_events (ticket_id, integration_id, type, state, version, reason)
      select id, integration_id, 'requeued', 'queued', version + 1, 'test: silent commit' from tickets where id = ${ticket.id}`;
    // Its id is given at commit (migration 0005), so read it back.
    const [row] = await t.sql`select max(id) as id from ticket_events where ticket_id = ${ticket.id}`;
    const jobs: Jobs = await startJobs({ databaseUrl: t.url, log: createLogger({}, true) });
    try {
      const settings = loadEnv({ ...WEBHOOK_ENV });
      const swept = await sweepWebhooks(
        { db: t.db, enqueue: async (ids) => void (await enqueueDeliveries(jobs.boss, settings, ids)) },
        { relayLagMs: 0, staleAfterMs: 3_600_000 },
      );
      expect(swept.relayed).toEqual([ticket.id]);
      await expect.poll(() => receiver.of(ticket.id).map((r) => r.payload.eventId), { timeout: 5_000 }).toContain(Number(row!.id));
      expect(receiver.of(ticket.id).map((r) => r.payload.type)).toEqual(['created', 'offered', 'requeued']);
      // Relayed once: the next sweep starts after it.
      expect((await sweepWebhooks({ db: t.db, enqueue: async () => {} }, { relayLagMs: 0, staleAfterMs: 3_600_000 })).relayed).toEqual([]);
    } finally {
      await jobs.stop();
    }
  });
});

describe('webhooks API', () => {
  it('shows the secret only at creation and rotation, and validates its input', async () => {
    const d = await desk(0);
    const url = `${receiver.url}${d.path}`;
    expect(await admin.webhooks.get.query({ integration: d.name })).toBeNull();
    const created = await admin.webhooks.set.mutate({ integration: d.name, url, enabled: false });
    expect(created).toMatchObject({ created: true, webhook: { integration: d.name, url, enabled: false, failingTickets: 0 } });
    const updated = await admin.webhooks.set.mutate({ integration: d.name, url: `${url}/v2`, enabled: true });
    expect(updated).toEqual({ created: false, webhook: expect.objectContaining({ url: `${url}/v2`, enabled: true }) });
    const rotated = await admin.webhooks.set.mutate({ integration: d.name, url, rotateSecret: true });
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    const got = await admin.webhooks.get.query({ integration: d.name });
    expect(got).toMatchObject({ id: created.webhook.id, url, enabled: true });
    expect(JSON.stringify(got)).not.toContain(rotated.secret!);

    await expect(admin.webhooks.set.mutate({ integration: 'No such desk', url })).rejects.toThrow(/integration: no such integration/);
    await expect(admin.webhooks.deliveries.query({ integration: 'No such desk' })).rejects.toSatisfy((e) => codeOf(e) === 'NOT_FOUND');
    const bad = admin.webhooks.set.mutate({ integration: d.name, url: 'ftp://example.com/hook' });
    await expect(bad).rejects.toSatisfy((e) => codeOf(e) === 'BAD_REQUEST');
    await expect(bad).rejects.toThrow('url: an http:// or https:// URL');
    await expect(admin.webhooks.set.mutate({ integration: '', url })).rejects.toThrow(/integration:/);

    const supervisor = httpClient(node.url, await signIn(node.url, d.team.supervisor.email, TEST_PASSWORD));
    await expect(supervisor.webhooks.get.query({ integration: d.name })).rejects.toSatisfy((e) => codeOf(e) === 'FORBIDDEN');
  });
});

describe('verifyWebhookSignature', () => {
  const secret = 'whsec_test';
  const body = JSON.stringify({ eventId: 7, type: 'created' });
  const now = 1_800_000_000;

  it('accepts the signature of the body as sent, within the tolerance', () => {
    expect(verifyWebhookSignature(secret, signWebhook(secret, now, body), String(now), body, 300, now + 299)).toBe(true);
    expect(verifyWebhookSignature(secret, `sha256=00, ${signWebhook(secret, now, body)}`, now, Buffer.from(body), 300, now)).toBe(true);
  });

  it('rejects a tampered body, another secret, a moved timestamp and an old one', () => {
    const header = signWebhook(secret, now, body);
    expect(verifyWebhookSignature(secret, header, String(now), body.replace('7', '8'), 300, now)).toBe(false);
    expect(verifyWebhookSignature('whsec_other', header, String(now), body, 300, now)).toBe(false);
    expect(verifyWebhookSignature(secret, header, String(now + 1), body, 300, now)).toBe(false);
    expect(verifyWebhookSignature(secret, header, String(now), body, 300, now + 301)).toBe(false);
    expect(verifyWebhookSignature(secret, header, 'yesterday', body, 300, now)).toBe(false);
    expect(verifyWebhookSignature(secret, undefined, String(now), body, 300, now)).toBe(false);
  });

  it('gives every attempt at an event the same delivery id, a version 5 uuid', () => {
    const webhookId = randomUUID();
    expect(webhookDeliveryId(webhookId, 42)).toBe(webhookDeliveryId(webhookId, 42));
    expect(webhookDeliveryId(webhookId, 42)).not.toBe(webhookDeliveryId(webhookId, 43));
    expect(webhookDeliveryId(webhookId, 42)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
