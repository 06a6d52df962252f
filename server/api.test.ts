// Integration: one real node (API only, no pages) on a real database, called
// over real HTTP and WebSocket connections.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from './node';
import { startTestNode } from './testing/node';
import { collect, signIn, socketClient } from './testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from './testing/database';

let t: TestDatabase;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;
const GRACE_MS = 300;

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Api', agents: 3 });
  node = await startTestNode(t.url, { DISCONNECT_GRACE_MS: String(GRACE_MS) });
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${node.url}/api/trpc/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: node.url, ...headers }, body });
const errorOf = async (res: Response) => ((await res.json()) as { error: { message: string; data: { code: string } } }).error;

describe('sign-in over plain HTTP', () => {
  it('sets an HttpOnly, SameSite=Lax session cookie and knows the user afterwards', async () => {
    const res = await post('auth.login', JSON.stringify({ email: team.agents[0]!.email, password: TEST_PASSWORD }));
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^sb_session=[\w-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    const me = await fetch(`${node.url}/api/trpc/auth.me`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(((await me.json()) as { result: { data: { user: { email: string } } } }).result.data.user.email).toBe(team.agents[0]!.email);
  });

  it('answers a wrong password and an unknown email with the same UNAUTHORIZED message', async () => {
    const wrong = await post('auth.login', JSON.stringify({ email: team.agents[0]!.email, password: 'nope' }));
    const unknown = await post('auth.login', JSON.stringify({ email: 'nobody@example.com', password: 'nope' }));
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [a, b] = [await errorOf(wrong), await errorOf(unknown)];
    expect(a.data.code).toBe('UNAUTHORIZED');
    expect(a.message).toBe('Email or password is incorrect');
    expect(b.message).toBe(a.message);
  });

  it('ends the browser session on logout', async () => {
    const cookie = await signIn(node.url, team.agents[1]!.email, TEST_PASSWORD);
    await post('auth.logout', '', { cookie });
    const me = await fetch(`${node.url}/api/trpc/auth.me`, { headers: { cookie } });
    expect(((await me.json()) as { result: { data: { user: unknown } } }).result.data.user).toBeNull();
  });
});

describe('bad input', () => {
  it('names a missing field', async () => {
    const res = await post('auth.login', JSON.stringify({ email: 'a@b.co' }));
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.data.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/^Invalid input: password: /);
  });

  it('names a field of the wrong type', async () => {
    const error = await errorOf(await post('auth.login', JSON.stringify({ email: 42, password: 'x' })));
    expect(error.data.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/email: .*string/);
  });

  it('answers malformed JSON with PARSE_ERROR', async () => {
    const res = await post('auth.login', '{"email": ');
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.data.code).toBe('PARSE_ERROR');
    expect(error.message).toMatch(/^Malformed JSON/);
  });

  it('answers an unknown procedure with NOT_FOUND', async () => {
    const res = await post('auth.fly', '{}');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).data.code).toBe('NOT_FOUND');
  });

  it('refuses presence to a caller without a session, and roster to an agent', async () => {
    const anon = await post('presence.setStatus', JSON.stringify({ status: 'busy' }));
    expect(anon.status).toBe(401);
    const cookie = await signIn(node.url, team.agents[2]!.email, TEST_PASSWORD);
    const roster = await fetch(`${node.url}/api/trpc/roster.list`, { headers: { cookie } });
    expect(roster.status).toBe(403);
  });

  it('refuses text PostgreSQL cannot store (a NUL, a lone surrogate) as bad input naming the field, at any depth', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const nul = await errorOf(await post('presence.force', JSON.stringify({ agentId: team.agents[0]!.id, status: 'away', note: 'a\u0000b' }), { cookie }));
    expect(nul).toMatchObject({ data: { code: 'BAD_REQUEST' }, message: 'Invalid input: note: must not contain a NUL character (U+0000) or an unpaired UTF-16 surrogate' });
    const surrogate = await errorOf(await post('auth.login', JSON.stringify({ email: 'a@b.co', password: 'x\ud800' })));
    expect(surrogate).toMatchObject({ data: { code: 'BAD_REQUEST' }, message: expect.stringMatching(/^Invalid input: password: /) });
    const deep = await errorOf(await post('auth.login', JSON.stringify({ email: 'a@b.co', password: 'x', extra: { list: ['ok', { 'k\u0000': 1 }] } })));
    expect(deep.message).toMatch(/^Invalid input: extra\.list\.1\.k/);
    // A surrogate pair (an emoji) is text like any other.
    const emoji = await post('auth.login', JSON.stringify({ email: 'a@b.co', password: 'x\ud83d\ude00' }));
    expect(emoji.status).toBe(401);
  });

  it('refuses a body over HTTP_MAX_BODY_BYTES with 413 without reading it all', async () => {
    const res = await post('auth.login', JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(1024 * 1024) }));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).data.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a batch of more than 50 calls', async () => {
    const paths = Array.from({ length: 51 }, () => 'auth.me').join(',');
    const res = await fetch(`${node.url}/api/trpc/${paths}?batch=1`);
    expect(res.status).toBe(400);
    const ok = await fetch(`${node.url}/api/trpc/${Array.from({ length: 50 }, () => 'auth.me').join(',')}?batch=1`);
    expect(ok.status).toBe(200);
  });

  it('refuses a subscription over HTTP (WebSocket only), alone or in a batch, instead of opening an event stream', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const alone = await fetch(`${node.url}/api/trpc/roster.watch?input=%7B%7D`, { headers: { cookie } });
    expect(alone.status).toBe(405);
    expect(alone.headers.get('content-type')).toBe('application/json');
    expect(await errorOf(alone)).toMatchObject({
      message: 'roster.watch: a subscription, served over a WebSocket to /api/trpc only',
      data: { code: 'METHOD_NOT_SUPPORTED', httpStatus: 405 },
    });
    const batch = await fetch(`${node.url}/api/trpc/auth.me,queues.watch?batch=1`, { headers: { cookie } });
    expect(batch.status).toBe(405);
    expect((await errorOf(batch)).message).toBe('queues.watch: a subscription, served over a WebSocket to /api/trpc only');
    // A path that does not decode names no procedure: answered, not thrown (it once would have ended the process).
    const malformed = await fetch(`${node.url}/api/trpc/roster.watch%E0`, { headers: { cookie } });
    expect(malformed.status).toBe(400);
    expect((await errorOf(malformed)).data.code).toBe('BAD_REQUEST');
  });

  it('stays up after all of it', async () => {
    const me = await fetch(`${node.url}/api/trpc/auth.me`);
    expect(me.status).toBe(200);
  });
});

describe('WebSocket', () => {
  it('refuses a socket without a session cookie with a clear UNAUTHORIZED error', async () => {
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/api/trpc`);
    const [first] = (await once(socket, 'message')) as [Buffer];
    const closed = once(socket, 'close');
    expect(JSON.parse(first.toString())).toMatchObject({
      id: null,
      error: { message: expect.stringMatching(/^Sign in first/), data: { code: 'UNAUTHORIZED' } },
    });
    await closed;
  });

  it('delivers a snapshot, then each change, to a supervisor watching the roster', async () => {
    const supervisor = socketClient(node.url, await signIn(node.url, team.supervisor.email, TEST_PASSWORD));
    const seen = collect<{ type: string; changes?: Array<{ row: { agentId: string; status: string; devices: number } }> }>();
    const sub = supervisor.trpc.roster.watch.subscribe(undefined, { onData: ({ data }) => seen.push(data) });
    await expect.poll(() => seen.items.length).toBe(1);
    expect(seen.items[0]).toMatchObject({ type: 'snapshot' });

    const agent = team.agents[0]!;
    const device = socketClient(node.url, await signIn(node.url, agent.email, TEST_PASSWORD), 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36');
    const attached = collect<{ type: string; heartbeatIntervalMs?: number }>();
    device.trpc.presence.session.subscribe({ deviceId: 'device-a1', sessionId: randomUUID() }, { onData: attached.push });
    await expect.poll(() => attached.items.length).toBe(1);
    expect(attached.items[0]!.heartbeatIntervalMs).toBe(15_000);

    const rowsOf = () =>
      seen.items
        .flatMap((e) => e.changes ?? [])
        .filter((c) => c.row.agentId === agent.id)
        .map((c) => [c.row.status, c.row.devices]);
    await expect.poll(rowsOf).toEqual([['available', 1]]);

    await device.close();
    await expect.poll(rowsOf, { timeout: GRACE_MS + 5_000 }).toEqual([
      ['available', 1],
      ['offline', 0],
    ]);
    const [session] = await t.sql`select end_reason, label from device_sessions where agent_id = ${agent.id}`;
    expect(session).toEqual({ end_reason: 'closed', label: 'Chrome on Linux' });
    sub.unsubscribe();
    await supervisor.close();
  });
});
