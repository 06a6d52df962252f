// Revoking an API key takes effect at once, everywhere: its open subscriptions
// on every node are closed within a second, and its next request is refused.
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertUser } from '../../db/queries/people';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { KEY_REVOKED_CLOSE_CODE } from '../realtime/sockets';
import { startTestNode } from '../testing/node';
import { httpClient, keyClient, signIn } from '../testing/clients';
import { createTestDatabase, TEST_PASSWORD, type TestDatabase } from '../testing/database';

let t: TestDatabase;
let nodes: RunningNode[];
let admin: ReturnType<typeof httpClient>;

beforeAll(async () => {
  t = await createTestDatabase();
  await insertUser(t.db, { email: 'admin@keys.test', name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  nodes = [await startTestNode(t.url), await startTestNode(t.url)];
  admin = httpClient(nodes[0]!.url, await signIn(nodes[0]!.url, 'admin@keys.test', TEST_PASSWORD));
});
afterAll(async () => {
  for (const node of nodes ?? []) await node.stop();
  await t?.drop();
});

/** An integration's socket following its tickets' events; resolves once the subscription has started. */
async function follow(url: string, key: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/api/trpc`, { headers: { authorization: `Bearer ${key}` } });
  await once(socket, 'open');
  const started = new Promise<void>((resolve) =>
    socket.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { result?: { type?: string } }).result?.type === 'started') resolve();
    }),
  );
  socket.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'tickets.events', input: {} } }));
  await started;
  return socket;
}

it('closes the key’s open subscriptions on every node within a second, and refuses its next request', async () => {
  const { id, key } = await admin.keys.create.mutate({ integration: 'desk', name: 'events', scopes: ['tickets:read'] });
  const other = await admin.keys.create.mutate({ integration: 'desk', name: 'other', scopes: ['tickets:read'] });
  const sockets = await Promise.all(nodes.map((node) => follow(node.url, key)));
  const bystander = await follow(nodes[1]!.url, other.key);

  const closes = sockets.map((socket) => once(socket, 'close').then(([code]) => ({ code: code as number, at: performance.now() })));
  const revokedAt = performance.now();
  await admin.keys.revoke.mutate({ id });
  const closed = await Promise.all(closes);

  for (const { code, at } of closed) {
    expect(code).toBe(KEY_REVOKED_CLOSE_CODE);
    expect(at - revokedAt).toBeLessThan(1_000);
  }
  expect(bystander.readyState).toBe(WebSocket.OPEN); // another key's socket stays
  for (const node of nodes) {
    // Said as it is: the key is no longer valid (not "send a key"), over HTTP and on a new socket.
    await expect(keyClient(node.url, key).tickets.list.query()).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
      message: 'This API key is not valid: unknown, revoked or expired',
    });
    await expect(keyClient(node.url, key).queues.stats.query()).rejects.toMatchObject({
      message: 'This API key is not valid: unknown, revoked or expired',
    });
  }
  bystander.close();
});

it('closes a key’s sockets when the key expires', async () => {
  const expiresAt = new Date(Date.now() + 1_500);
  const { key } = await admin.keys.create.mutate({ integration: 'desk', name: 'short', scopes: ['tickets:read'], expiresAt: expiresAt.toISOString() });
  const socket = await follow(nodes[1]!.url, key);
  const [code] = (await once(socket, 'close')) as [number];
  expect(code).toBe(KEY_REVOKED_CLOSE_CODE);
  expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
  expect(Date.now() - expiresAt.getTime()).toBeLessThan(1_000);
});
