// Operations endpoints of a real node: /healthz answers while the process
// runs; /readyz checks the database, the LISTEN connection (a notification it
// sends itself must arrive), pg-boss and the node's hold on its sessions, and
// turns 503 when the database is cut off (through a TCP proxy) and 200 again
// when it is back; /metrics reports, in Prometheus's format, what a device, a
// heartbeat, a status change and a waiting ticket did (counters, gauges, the
// flush, create and NOTIFY-to-delivery histograms), and needs METRICS_TOKEN
// when set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import type { RunningNode } from '../node';
import { keyClient, openDevice, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { startTcpProxy, type TcpProxy } from '../testing/tcp-proxy';

const METRICS_TOKEN = 'metrics-token-for-the-test';
let t: TestDatabase;
let proxy: TcpProxy;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Ops', agents: 2 });
  await insertQueue(t.db, { name: 'Ops queue', teamId: team.teamId });
  proxy = await startTcpProxy(t.url);
  node = await startTestNode(proxy.urlFor(t.url), { METRICS_TOKEN, NODE_HEARTBEAT_MS: '1000', NODE_TIMEOUT_MS: '10000' });
});
afterAll(async () => {
  proxy?.restore();
  await node?.stop();
  await proxy?.close();
  await t?.drop();
});

const readyz = async () => {
  const res = await fetch(`${node.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> } };
};

/** The value of one series (`name` or `name{labels}`) in a scrape, or undefined. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('health and readiness', () => {
  it('/healthz answers; /readyz is ready with every check passing', async () => {
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body.ready).toBe(true);
    expect(Object.fromEntries(Object.entries(body.checks).map(([k, c]) => [k, c.ok]))).toEqual({ database: true, listen: true, jobs: true, node: true });
  });

  it('/readyz says 503, naming the database, while the node cannot reach it, and 200 once it can again; /healthz stays 200', async () => {
    proxy.cut();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.checks.database).toMatchObject({ ok: false });
    expect(down.body.checks.listen).toMatchObject({ ok: false });
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    proxy.restore();
    await expect.poll(async () => (await readyz()).status, { timeout: 15_000, interval: 250 }).toBe(200);
  }, 30_000);
});

describe('request ids', () => {
  it('echo a sane X-Request-Id (a proxy\'s), and give a new one to a request without one or with a bad one', async () => {
    const echoed = await fetch(`${node.url}/api/trpc/auth.me`, { headers: { 'x-request-id': 'lb-7f3a.42' } });
    expect(echoed.headers.get('x-request-id')).toBe('lb-7f3a.42');
    const fresh = await fetch(`${node.url}/healthz`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await fetch(`${node.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(200) } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('metrics', () => {
  it('needs the token when METRICS_TOKEN is set', async () => {
    expect((await fetch(`${node.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${node.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
  });

  it('reports devices, heartbeats, flushes, agents by status, queue depth and wait, in Prometheus text format', async () => {
    const device = await openDevice(node.url, await signIn(node.url, team.agents[0]!.email, TEST_PASSWORD));
    await device.heartbeat();
    await node.services.engine.flush();
    // A ticket that waits: the only agent with a device is busy.
    await device.trpc.presence.setStatus.mutate({ status: 'busy' });
    const { key } = await createApiKey(t.db, { integration: 'ops', name: 'k', scopes: ['tickets:write'] });
    await keyClient(node.url, key).tickets.create.mutate({ externalId: 'ops-1', queue: 'Ops queue', channel: 'chat', subject: 'Waits' });
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const res = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(series(text, 'switchboard_device_sessions')).toBe(1);
    expect(series(text, 'switchboard_websocket_connections')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'switchboard_heartbeats_total')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'switchboard_heartbeat_flush_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'switchboard_agents{status="busy"}')).toBe(1);
    expect(series(text, 'switchboard_agents{status="offline"}')).toBe(1);
    expect(series(text, 'switchboard_queue_waiting_tickets{queue="Ops queue"}')).toBe(1);
    expect(series(text, 'switchboard_queue_oldest_wait_seconds{queue="Ops queue"}')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'switchboard_webhook_deliveries{status="failed"}')).toBe(0);
    expect(series(text, 'switchboard_ticket_create_seconds_count')).toBe(1);
    expect(series(text, 'switchboard_notify_to_delivery_seconds_count{log="presence"}')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'switchboard_notify_to_delivery_seconds_count{log="tickets"}')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'switchboard_agent_actions_total{action="accept"}')).toBe(0);
    expect(text).toContain('# TYPE switchboard_heartbeats_total counter');
    expect(text).toContain('process_cpu_seconds_total');
    await device.close();
  });
});
