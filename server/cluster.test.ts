// Several real server processes on one database behave as one, and the ways a
// device or a node can vanish without a word end its sessions within a bound.
// The bounds measured are printed, so CI logs keep them.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from './auth/api-keys';
import { openDevice, signIn } from './testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from './testing/database';
import { ROOT, spawnNode, type NodeProcess } from './testing/spawn-node';

// Short knobs, so the bounds are seconds: what matters is that each holds.
// Each measurement is printed; the assertion allows SLACK_MS over the bound for
// a loaded 2-core CI machine running other test files alongside.
const SLACK_MS = 4_000;
const TIMING = {
  NODE_HEARTBEAT_MS: '500',
  NODE_TIMEOUT_MS: '2000',
  DISCONNECT_GRACE_MS: '500',
  WS_PING_MS: '500',
  WS_PONG_WAIT_MS: '500',
  SESSION_TTL_MS: '30000',
};

let t: TestDatabase;
let team: Awaited<ReturnType<typeof seedTeam>>;
let a: NodeProcess;
let b: NodeProcess;
const extra: NodeProcess[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Cluster', agents: 5 });
  [a, b] = await Promise.all([
    spawnNode({ DATABASE_URL: t.url, SEED: 'none', NODE_NAME: 'node-a', ...TIMING }),
    spawnNode({ DATABASE_URL: t.url, SEED: 'none', NODE_NAME: 'node-b', ...TIMING }),
  ]);
}, 90_000);
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([a, b, ...extra].map((n) => n?.stop('SIGTERM')));
  await t?.drop();
}, 30_000);

const presence = async (agentId: string) =>
  (await t.sql`select status, devices from agent_presence where agent_id = ${agentId}`)[0];
const endOf = async (sessionId: string) =>
  (await t.sql`select end_reason, ended_at from device_sessions where id = ${sessionId}`)[0];

/** Starts a device in a process of its own, on `url`, and waits for its session. */
async function deviceProcess(url: string, email: string): Promise<{ child: ChildProcess; sessionId: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/testing/device-process.ts', url, email, TEST_PASSWORD], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const sessionId = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /attached (\S+)/.exec(chunk.toString());
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`device process exited ${code}`)));
  });
  return { child, sessionId };
}

/** Polls until the session has ended; returns how long after `since` it did. */
async function endedWithin(sessionId: string, since: number, limitMs: number) {
  let row: Awaited<ReturnType<typeof endOf>>;
  for (;;) {
    row = await endOf(sessionId);
    if (row?.ended_at) break;
    if (Date.now() - since > limitMs) throw new Error(`session ${sessionId} still live after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { reason: row!.end_reason as string, afterMs: Date.now() - since };
}

describe('several nodes', () => {
  it('see one agent with a tab on node A and another on node B as one agent with two devices', async () => {
    const agent = team.agents[0]!;
    const cookie = await signIn(a.url, agent.email, TEST_PASSWORD);
    const onA = await openDevice(a.url, cookie);
    const onB = await openDevice(b.url, cookie);
    expect(await presence(agent.id)).toEqual({ status: 'available', devices: 2 });
    await onA.close();
    await expect.poll(() => presence(agent.id), { timeout: 5_000 }).toEqual({ status: 'available', devices: 1 });
    await onB.close();
    await expect.poll(() => presence(agent.id), { timeout: 5_000 }).toEqual({ status: 'offline', devices: 0 });
  });

  it('a tab that reconnects to another node within the grace keeps its session, with no status change', async () => {
    const agent = team.agents[1]!;
    const cookie = await signIn(a.url, agent.email, TEST_PASSWORD);
    const ids = { deviceId: 'laptop-reconnect', sessionId: 'tab-reconnect-0001' };
    const first = await openDevice(a.url, cookie, ids);
    const eventsBefore = (await t.sql`select count(*)::int as n from presence_events where agent_id = ${agent.id}`)[0]!.n;
    await first.close();
    const second = await openDevice(b.url, cookie, ids); // within the 500 ms grace
    expect(second.sessionId).toBe(first.sessionId);
    await new Promise((r) => setTimeout(r, 1_000)); // past A's grace timer, which must now do nothing
    expect(await presence(agent.id)).toEqual({ status: 'available', devices: 1 });
    const after = (await t.sql`select count(*)::int as n from presence_events where agent_id = ${agent.id}`)[0]!.n;
    expect(after).toBe(eventsBefore);
    await second.close();
  });
});

describe('vanishing without a word', () => {
  /** Sends `signal` to a device process of agent `index` and returns how its session ended. */
  async function vanish(index: number, signal: NodeJS.Signals, label: string) {
    const agent = team.agents[index]!;
    const { child, sessionId } = await deviceProcess(a.url, agent.email);
    expect(await presence(agent.id)).toEqual({ status: 'available', devices: 1 });
    const at = Date.now();
    child.kill(signal);
    const bound = Number(TIMING.WS_PING_MS) + Number(TIMING.WS_PONG_WAIT_MS) + Number(TIMING.DISCONNECT_GRACE_MS);
    const { reason, afterMs } = await endedWithin(sessionId, at, bound + SLACK_MS);
    console.info(`${label}: session ended (${reason}) after ${afterMs} ms; bound keep-alive + grace = ${bound} ms`);
    child.kill('SIGKILL');
    return { reason, status: await presence(agent.id) };
  }

  it('a device process killed with SIGKILL goes offline within keep-alive + grace', async () => {
    expect(await vanish(2, 'SIGKILL', 'SIGKILLed device')).toEqual({ reason: 'closed', status: { status: 'offline', devices: 0 } });
  });

  it('a frozen device (SIGSTOP: socket open, nothing answers) is dropped by the keep-alive, then the grace', async () => {
    expect(await vanish(3, 'SIGSTOP', 'frozen device')).toEqual({ reason: 'closed', status: { status: 'offline', devices: 0 } });
  });

  it('a node killed with SIGKILL has its sessions ended by another node within the node timeout (+ one sweep)', async () => {
    const c = await spawnNode({ DATABASE_URL: t.url, SEED: 'none', NODE_NAME: 'node-c', ...TIMING });
    extra.push(c);
    const agent = team.agents[4]!;
    const cookie = await signIn(c.url, agent.email, TEST_PASSWORD);
    const devices = [await openDevice(c.url, cookie), await openDevice(c.url, cookie)];
    expect(await presence(agent.id)).toEqual({ status: 'available', devices: 2 });
    const killedAt = Date.now();
    await c.stop('SIGKILL');
    const bound = Number(TIMING.NODE_TIMEOUT_MS) + Number(TIMING.NODE_HEARTBEAT_MS);
    const results = await Promise.all(devices.map((d) => endedWithin(d.sessionId, killedAt, bound + SLACK_MS)));
    console.info(`SIGKILLed node: sessions ended (${results.map((r) => `${r.reason} after ${r.afterMs} ms`).join(', ')}); bound node timeout + sweep interval = ${bound} ms`);
    expect(results.map((r) => r.reason)).toEqual(['node_lost', 'node_lost']);
    // The sweep ends the sessions in one statement, then recomputes each agent.
    await expect.poll(() => presence(agent.id)).toEqual({ status: 'offline', devices: 0 });
    await Promise.all(devices.map((d) => d.close()));
  });
});

describe('API keys across nodes', () => {
  it('a key revoked elsewhere (here, as the CLI does) is refused by a node that trusted it, within moments', async () => {
    const { key, id } = await createApiKey(t.db, { integration: 'Cluster desk', name: 'cluster', scopes: ['tickets:read'] });
    const list = () => fetch(`${a.url}/api/trpc/tickets.list`, { headers: { authorization: `Bearer ${key}` } }).then((res) => res.status);
    expect(await list()).toBe(200);
    expect(await list()).toBe(200); // node A now answers from what it remembers of the key
    const revokedAt = Date.now();
    expect(await revokeApiKey(t.db, { id })).toBe(true);
    // Far sooner than the 10 s a node trusts a key it read: the revocation's notice reached node A.
    await expect.poll(list, { timeout: 3_000, interval: 20 }).toBe(401);
    console.info(`revoked key refused by another node after ${Date.now() - revokedAt} ms`);
  });
});

