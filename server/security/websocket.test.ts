// The tRPC WebSocket against hostile clients, on a real node: a page of
// another site may not open one (cross-site WebSocket hijacking); an oversized
// message closes that socket only; a client flooding 10,000 messages a second
// is refused and closed while another client's heartbeats stay fast.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { startTestNode } from '../testing/node';
import { openDevice, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { ROOT } from '../testing/spawn-node';

let t: TestDatabase;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;
const MAX_PAYLOAD = 16 * 1024;

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Guard', agents: 3 });
  node = await startTestNode(t.url, { WS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) });
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

const wsUrl = () => `${node.url.replace('http', 'ws')}/api/trpc`;

/** Opens a raw socket with these headers; resolves with the open socket, or with the HTTP status it was refused with. */
function rawSocket(headers: Record<string, string>): Promise<{ socket?: WebSocket; refused?: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(), { headers });
    socket.once('open', () => resolve({ socket }));
    socket.once('unexpected-response', (_req, res) => resolve({ refused: res.statusCode }));
    socket.once('error', reject);
  });
}

/** Sends one tRPC request over a raw socket and resolves with its answer. */
function ask(socket: WebSocket, id: number, path: string, method = 'query', input?: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if (message.id !== id) return;
      socket.off('message', onMessage);
      resolve(message);
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ id, method, params: { path, input } }));
  });
}

describe('the origin of a WebSocket', () => {
  it('refuses an upgrade from a page of another site, though it carries a valid sign-in cookie', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const foreign = await rawSocket({ cookie, origin: 'https://evil.example' });
    expect(foreign).toEqual({ refused: 403 });
    const sibling = await rawSocket({ cookie, origin: node.url.replace('127.0.0.1', 'localhost') });
    expect(sibling).toEqual({ refused: 403 });
  });

  it('accepts one from its own pages, and from a client that is not a browser (no Origin)', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    for (const headers of [{ cookie, origin: node.url }, { cookie }] as Array<Record<string, string>>) {
      const { socket } = await rawSocket(headers);
      const answer = await ask(socket!, 1, 'auth.me');
      expect(answer).toMatchObject({ result: { data: { user: { email: team.supervisor.email } } } });
      socket!.close();
    }
  });
});

describe('an oversized message', () => {
  it('closes that socket with 1009 and no other', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const { socket: big } = await rawSocket({ cookie });
    const { socket: other } = await rawSocket({ cookie });
    const closed = once(big!, 'close');
    big!.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: 'x'.repeat(MAX_PAYLOAD) } }));
    const [code] = (await closed) as [number];
    expect(code).toBe(1009);
    expect(await ask(other!, 2, 'auth.me')).toMatchObject({ result: { data: { user: { email: team.supervisor.email } } } });
    other!.close();
  });
});

describe('a flood of messages', () => {
  it('answers a burst past the budget with TOO_MANY_REQUESTS for each message refused', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const { socket } = await rawSocket({ cookie });
    const answers = await Promise.all(Array.from({ length: 260 }, (_, i) => ask(socket!, i + 1, 'auth.me')));
    const refused = answers.filter((a) => (a.error as { data?: { code?: string } } | undefined)?.data?.code === 'TOO_MANY_REQUESTS');
    // A burst of 200 is allowed (WS_MESSAGE_BURST), plus what refills while they arrive (50 a second).
    expect(refused.length).toBeGreaterThanOrEqual(260 - 200 - 10);
    expect(answers.length - refused.length).toBeGreaterThanOrEqual(200);
    socket!.close();
  });

  it('throttles then closes a client sending 10,000 a second while another client’s heartbeats keep a p99 under 50 ms', async () => {
    const attacker = await signIn(node.url, team.agents[0]!.email, TEST_PASSWORD);
    const device = await openDevice(node.url, await signIn(node.url, team.agents[1]!.email, TEST_PASSWORD));
    const flood = spawn(process.execPath, ['--import', 'tsx', 'server/testing/flood-process.ts', wsUrl(), attacker, '10000', '4'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let report = '';
    flood.stdout.on('data', (chunk: Buffer) => (report += chunk.toString()));
    const exited = once(flood, 'exit');

    // Heartbeat acknowledgements (the agent's tab's most frequent call), timed while the flood runs.
    const rtts: number[] = [];
    const until = Date.now() + 4_000;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the flood has started
    while (Date.now() < until) {
      const sent = performance.now();
      await device.heartbeat();
      rtts.push(performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await exited;
    await device.close();
    const tally = JSON.parse(report) as { sent: number; answered: number; refused: number; closes: Record<string, number>; connections: number };

    rtts.sort((a, b) => a - b);
    const p99 = rtts[Math.floor(rtts.length * 0.99)]!;
    console.log(`flood: ${JSON.stringify(tally)}; heartbeat acks ${rtts.length}, p50 ${rtts[rtts.length >> 1]!.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    expect(tally.sent).toBeGreaterThan(20_000);
    // Each connection gets its burst and a second's refill at most before it is closed.
    expect(tally.answered).toBeLessThanOrEqual(tally.connections * (200 + 2 * 50));
    expect(tally.closes['1008']).toBeGreaterThanOrEqual(2);
    expect(rtts.length).toBeGreaterThan(50);
    expect(p99).toBeLessThan(50);
  });
});
