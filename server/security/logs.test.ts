// Secrets never reach the logs: a password, a session cookie, an API key or a
// webhook's signing secret given to a real node process appears nowhere in
// its output, whatever happens to them (good sign-ins and bad, keys made and
// used, requests that fail); and the logger itself redacts secret fields.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { spawnNode, type NodeProcess } from '../testing/spawn-node';

describe('the logger', () => {
  it('writes [redacted] for secret fields at any depth, and everything else as given', () => {
    let out = '';
    const capture = new Writable({ write: (chunk: Buffer, _enc, done) => ((out += chunk.toString()), done()) });
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = capture.write.bind(capture) as typeof process.stdout.write;
    try {
      createLogger({ node: 'a' }).info('something', {
        password: 'hunter22',
        request: { headers: { authorization: 'Bearer sbk_x', cookie: 'sb_session=abc' }, path: 'auth.login' },
        webhook: { secret: 'whsec_1', url: 'https://example.com/hook' },
        sessionToken: 't0k',
        apiKey: 'sbk_y',
        count: 3,
      });
    } finally {
      process.stdout.write = write;
    }
    const entry = JSON.parse(out) as Record<string, unknown>;
    expect(entry).toMatchObject({
      msg: 'something',
      node: 'a',
      password: '[redacted]',
      request: { headers: { authorization: '[redacted]', cookie: '[redacted]' }, path: 'auth.login' },
      webhook: { secret: '[redacted]', url: 'https://example.com/hook' },
      sessionToken: '[redacted]',
      apiKey: '[redacted]',
      count: 3,
    });
  });
});

describe('a running node', () => {
  let t: TestDatabase;
  let node: NodeProcess;
  beforeAll(async () => {
    t = await createTestDatabase();
    node = await spawnNode({ DATABASE_URL: t.url, SEED: 'demo' });
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
    await t?.drop();
  });

  const call = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${node.url}/api/trpc/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: node.url, ...headers },
      body: JSON.stringify(body),
    });
    return { res, body: (await res.json()) as { result?: { data: Record<string, unknown> } } };
  };

  it('never prints a password, a cookie, an API key or a webhook secret it handled', async () => {
    // (The demo password is the product's name, printed everywhere; the others stand for passwords.)
    const secrets: string[] = ['wrong-password-1234'];
    await call('auth.login', { email: 'admin@example.com', password: 'wrong-password-1234' });
    const login = await call('auth.login', { email: 'admin@example.com', password: 'switchboard' });
    const cookie = login.res.headers.get('set-cookie')!.split(';')[0]!;
    secrets.push(cookie.split('=')[1]!);
    const key = (await call('keys.create', { integration: 'desk', name: 'k', scopes: ['admin'] }, { cookie })).body.result!.data.key as string;
    secrets.push(key);
    const hook = await call('webhooks.set', { integration: 'desk', url: 'http://127.0.0.1:9/hook' }, { cookie });
    secrets.push(hook.body.result!.data.secret as string);
    // Used, and misused: a ticket in an unknown queue, a bad key, a changed password.
    await call('tickets.create', { externalId: 'x', queue: 'nope', channel: 'chat', subject: 's' }, { authorization: `Bearer ${key}` });
    await call('tickets.list', {}, { authorization: `Bearer ${key}x` });
    await call('auth.changePassword', { currentPassword: 'switchboard', newPassword: 'a secret new passphrase' }, { cookie });
    secrets.push('a secret new passphrase');
    await new Promise((resolve) => setTimeout(resolve, 500)); // the webhook's failed delivery is logged, if at all

    const output = node.output();
    expect(output).toContain('switchboard listening on'); // the output is there to be searched
    for (const secret of secrets) expect(output, `output contains ${secret.slice(0, 6)}…`).not.toContain(secret);
  });
});
