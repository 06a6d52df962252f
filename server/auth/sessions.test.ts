// Browser sign-ins against a real node: cookies that refuse other sites'
// changes, idle and absolute expiry (sockets closed with them), deactivated
// users, a password change that ends every sign-in, and sign-in throttling
// per account and per address.
import { once } from 'node:events';
import { sql } from 'drizzle-orm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { SIGNED_OUT_CLOSE_CODE } from '../realtime/sockets';
import { startTestNode } from '../testing/node';
import { httpClient, openDevice, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { hashToken } from './service';

let t: TestDatabase;
let node: RunningNode;
/** Behind a (pretend) TLS proxy that the node trusts, with small throttling limits. */
let proxied: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Auth', agents: 8 });
  // The sweep (which also expires sign-ins) runs about every NODE_HEARTBEAT_MS.
  // Both nodes with the same timing: either may run the sweep, and judges the other by its own node timeout.
  const timing = { NODE_HEARTBEAT_MS: '300', NODE_TIMEOUT_MS: '3000' };
  node = await startTestNode(t.url, timing);
  proxied = await startTestNode(t.url, {
    ...timing,
    TRUST_PROXY: 'true',
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
    LOGIN_MAX_FAILURES_PER_ADDRESS: '5',
  });
});
afterAll(async () => {
  await proxied?.stop();
  await node?.stop();
  await t?.drop();
});

type Answer = { status: number; code?: string; message?: string; headers: Headers };
async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}/api/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { message: string; data: { code: string } } };
  return { status: res.status, code: json.error?.data.code, message: json.error?.message, headers: res.headers };
}
const cookieOf = (answer: Answer) => answer.headers.get('set-cookie')?.split(';')[0] ?? '';
const me = async (base: string, cookie: string) =>
  ((await (await fetch(`${base}/api/trpc/auth.me`, { headers: { cookie } })).json()) as { result: { data: { user: { email: string } | null } } })
    .result.data.user;
const login = (base: string, email: string, password: string, headers: Record<string, string> = {}) =>
  post(base, 'auth.login', { email, password }, { origin: base, ...headers });

describe('changes signed in by cookie (cross-site request forgery)', () => {
  it('are refused without an Origin, or from another site, and accepted from this site', async () => {
    const cookie = await signIn(node.url, team.agents[0]!.email, TEST_PASSWORD);
    const change = { status: 'busy' };
    const none = await post(node.url, 'presence.setStatus', change, { cookie });
    expect(none).toMatchObject({ status: 403, code: 'FORBIDDEN', message: expect.stringMatching(/^Origin: /) });
    const foreign = await post(node.url, 'presence.setStatus', change, { cookie, origin: 'https://evil.example' });
    expect(foreign).toMatchObject({ status: 403, code: 'FORBIDDEN', message: expect.stringMatching(/^Origin: /) });
    expect(await post(node.url, 'presence.setStatus', change, { cookie, origin: node.url })).toMatchObject({ status: 200 });
    // A browser that sends no Origin still says the request is same-origin.
    expect(await post(node.url, 'presence.setStatus', change, { cookie, 'sec-fetch-site': 'same-origin' })).toMatchObject({ status: 200 });
    expect(await post(node.url, 'presence.setStatus', change, { cookie, 'sec-fetch-site': 'cross-site' })).toMatchObject({ status: 403 });
  });

  it('leave queries and API-key calls alone: an API key is not an ambient credential', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const roster = await fetch(`${node.url}/api/trpc/roster.list`, { headers: { cookie, origin: 'https://evil.example' } });
    expect(roster.status).toBe(200); // a read: the browser would not let the other site see the answer
    const keyed = await post(node.url, 'tickets.cancel', { id: crypto.randomUUID() }, { authorization: 'Bearer sbk_unknown' });
    expect(keyed).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('refuse a sign-in posted by another site (login CSRF), not one from a client without an Origin', async () => {
    const email = team.agents[1]!.email;
    expect(await login(node.url, email, TEST_PASSWORD, { origin: 'https://evil.example' })).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(await post(node.url, 'auth.login', { email, password: TEST_PASSWORD })).toMatchObject({ status: 200 });
  });
});

describe('the session cookie', () => {
  it('is HttpOnly and SameSite=Lax, and Secure only when a trusted proxy says the client used https', async () => {
    const email = team.agents[2]!.email;
    const plain = await login(node.url, email, TEST_PASSWORD, { 'x-forwarded-proto': 'https' }); // not trusted: ignored
    expect(plain.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Lax; Max-Age=604800$/);
    const secure = await login(proxied.url, email, TEST_PASSWORD, { 'x-forwarded-proto': 'https', origin: 'https://' + new URL(proxied.url).host });
    expect(secure.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Lax; Max-Age=604800; Secure$/);
  });
});

describe('expiry', () => {
  const backdate = (cookie: string, column: 'last_used_at' | 'expires_at', by: string) =>
    t.db.execute(sql`update auth_sessions set ${sql.raw(column)} = now() - ${by}::interval where id = ${hashToken(cookie.split('=')[1]!)}`);

  it('ends a sign-in unused for the idle timeout, and closes its sockets', async () => {
    const cookie = await signIn(node.url, team.supervisor.email, TEST_PASSWORD);
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/api/trpc`, { headers: { cookie } });
    await once(socket, 'open');
    const closed = once(socket, 'close');
    await backdate(cookie, 'last_used_at', '13 hours'); // AUTH_SESSION_IDLE_MS is 12 h
    expect(await me(node.url, cookie)).toBeNull();
    const [code] = (await closed) as [number]; // the sweep deleted it and told every node
    expect(code).toBe(SIGNED_OUT_CLOSE_CODE);
  });

  it('keeps a sign-in whose tab is open, however long ago its last request: its heartbeats are use', async () => {
    const cookie = await signIn(node.url, team.agents[3]!.email, TEST_PASSWORD);
    const device = await openDevice(node.url, cookie);
    await backdate(cookie, 'last_used_at', '12 hours 1 second'); // past the idle timeout, had the tab not been open
    // The next sweep renews it, rather than ending it (no request of ours renews it meanwhile).
    const renewed = () =>
      t.db
        .execute<{ fresh: boolean }>(
          sql`select last_used_at > now() - interval '1 minute' as fresh from auth_sessions where id = ${hashToken(cookie.split('=')[1]!)}`,
        )
        .then(([row]) => row?.fresh);
    await expect.poll(renewed, { timeout: 5_000 }).toBe(true);
    expect((await me(node.url, cookie))?.email).toBe(team.agents[3]!.email);
    expect(device.events.some((e) => e.type === 'ended')).toBe(false);
    await device.close();
  });

  it('ends a sign-in at its absolute expiry though in use: its device sessions end signed_out', async () => {
    const cookie = await signIn(node.url, team.agents[4]!.email, TEST_PASSWORD);
    const device = await openDevice(node.url, cookie);
    await backdate(cookie, 'expires_at', '1 second');
    await expect.poll(() => device.events.at(-1), { timeout: 5_000 }).toMatchObject({ type: 'ended', reason: 'signed_out' });
    const [row] = await t.db.execute<{ end_reason: string }>(sql`select end_reason from device_sessions where id = ${device.sessionId}`);
    expect(row?.end_reason).toBe('signed_out');
    expect(await me(node.url, cookie)).toBeNull();
    await device.close();
  });
});

describe('a deactivated user', () => {
  it('is signed out at once and cannot sign in again, with the same answer as a wrong password', async () => {
    const email = team.agents[5]!.email;
    const cookie = await signIn(node.url, email, TEST_PASSWORD);
    await t.db.execute(sql`update users set deactivated_at = now() where email = ${email}`);
    expect(await me(node.url, cookie)).toBeNull();
    expect(await login(node.url, email, TEST_PASSWORD)).toMatchObject({ status: 401, message: 'Email or password is incorrect' });
    await t.db.execute(sql`update users set deactivated_at = null where email = ${email}`);
  });
});

describe('changing the password', () => {
  it('names what is wrong with the input, and refuses a wrong current password', async () => {
    const client = httpClient(node.url, await signIn(node.url, team.agents[6]!.email, TEST_PASSWORD));
    await expect(client.auth.changePassword.mutate({ currentPassword: TEST_PASSWORD, newPassword: 'short' })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST' },
      message: expect.stringMatching(/newPassword: /),
    });
    await expect(
      client.auth.changePassword.mutate({ currentPassword: TEST_PASSWORD, newPassword: TEST_PASSWORD }),
    ).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' }, message: expect.stringMatching(/newPassword: the same/) });
    await expect(
      client.auth.changePassword.mutate({ currentPassword: 'not it', newPassword: 'a new long password' }),
    ).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' }, message: 'currentPassword: incorrect' });
  });

  it('ends every sign-in of the user and closes their sockets, and signs this browser in again', async () => {
    const email = team.agents[7]!.email;
    const here = await signIn(node.url, email, TEST_PASSWORD);
    const elsewhere = await signIn(node.url, email, TEST_PASSWORD);
    const device = await openDevice(node.url, elsewhere);
    const changed = await post(
      node.url,
      'auth.changePassword',
      { currentPassword: TEST_PASSWORD, newPassword: 'a brand new passphrase' },
      { cookie: here, origin: node.url },
    );
    expect(changed.status).toBe(200);
    await expect.poll(() => device.events.at(-1)).toMatchObject({ type: 'ended', reason: 'signed_out' });
    expect(await me(node.url, here)).toBeNull();
    expect(await me(node.url, elsewhere)).toBeNull();
    expect((await me(node.url, cookieOf(changed)))?.email).toBe(email);
    expect(await login(node.url, email, TEST_PASSWORD)).toMatchObject({ status: 401 });
    expect(await login(node.url, email, 'a brand new passphrase')).toMatchObject({ status: 200 });
    await device.close();
  });
});

describe('sign-in throttling', () => {
  const from = (address: string) => ({ 'x-forwarded-for': address, origin: proxied.url });

  it('refuses an account after its limit of failures, even with the right password, and says when to retry', async () => {
    const email = team.agents[0]!.email;
    for (let i = 0; i < 3; i++) expect(await login(proxied.url, email, 'guess', from(`198.51.100.${i}`))).toMatchObject({ status: 401 });
    const refused = await login(proxied.url, email, TEST_PASSWORD, from('198.51.100.9'));
    expect(refused).toMatchObject({ status: 429, code: 'TOO_MANY_REQUESTS', message: expect.stringMatching(/^Too many failed sign-ins for this account/) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(800); // the 15-minute window
    // Other accounts are unaffected.
    expect(await login(proxied.url, team.agents[1]!.email, TEST_PASSWORD, from('198.51.100.9'))).toMatchObject({ status: 200 });
  });

  it('refuses an address after its limit of failures across accounts, and only that address', async () => {
    const guesser = from('203.0.113.77');
    for (let i = 0; i < 5; i++) {
      expect(await login(proxied.url, `nobody${i}@auth.test`, 'guess', guesser)).toMatchObject({ status: 401 });
    }
    const refused = await login(proxied.url, team.agents[2]!.email, TEST_PASSWORD, guesser);
    expect(refused).toMatchObject({ status: 429, message: expect.stringMatching(/^Too many failed sign-ins from this address/) });
    expect(await login(proxied.url, team.agents[2]!.email, TEST_PASSWORD, from('203.0.113.78'))).toMatchObject({ status: 200 });
  });

  it('keeps no address in the clear', async () => {
    const rows = await t.db.execute<{ key: string }>(sql`select key from login_throttle`);
    expect(rows.some((r) => r.key.startsWith('address:'))).toBe(true);
    expect(rows.filter((r) => /\d+\.\d+\.\d+\.\d+/.test(r.key))).toEqual([]);
  });

  it('clears an account’s failures when it signs in', async () => {
    const email = team.agents[3]!.email;
    await login(proxied.url, email, 'guess', from('192.0.2.1'));
    await login(proxied.url, email, 'guess', from('192.0.2.1'));
    expect(await login(proxied.url, email, TEST_PASSWORD, from('192.0.2.1'))).toMatchObject({ status: 200 });
    const [row] = await t.db.execute<{ n: number }>(sql`select count(*)::int as n from login_throttle where key = ${`account:${email}`}`);
    expect(row?.n).toBe(0);
  });
});
