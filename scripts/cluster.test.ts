// `npm run cluster`, run as an operator runs it: three node processes on one
// database behind the round-robin front. Devices connected through the front
// spread over the nodes; a node killed with SIGKILL is skipped by the front
// (new sign-ins and sockets reach the others at once) and its sessions end
// `node_lost` within the node timeout.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, signIn, type Device } from '../server/testing/clients';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';
import { freePortRun, ROOT } from '../server/testing/spawn-node';

const NODE_TIMEOUT_MS = 3_000;
let t: TestDatabase;
let cluster: ChildProcess;
let output = '';
let front: string;
const devices: Device[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  const port = await freePortRun(4); // the front, then node-1..3 on the ports after it
  front = `http://127.0.0.1:${port}`;
  cluster = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', '--nodes', '3', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: t.url, SEED: 'demo', NODE_HEARTBEAT_MS: '1000', NODE_TIMEOUT_MS: String(NODE_TIMEOUT_MS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cluster.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cluster.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = `behind http://localhost:${port}`;
  await new Promise<void>((resolve, reject) => {
    const check = () => output.includes(ready) && resolve();
    cluster.stdout!.on('data', check);
    cluster.once('exit', (code) => reject(new Error(`the cluster exited with ${code}:\n${output}`)));
  });
}, 90_000);
afterAll(async () => {
  for (const device of devices) await device.close().catch(() => {});
  if (cluster && cluster.exitCode === null) {
    const exited = once(cluster, 'exit');
    cluster.kill('SIGTERM');
    await exited;
  }
  await t?.drop();
}, 60_000);

/** Live device sessions per node name. */
async function sessionsByNode(): Promise<Record<string, number>> {
  const rows = await t.sql<{ name: string; n: number }[]>`
    select n.name, count(*)::int as n from device_sessions s join nodes n on n.id = s.node_id
     where s.ended_at is null group by n.name order by n.name`;
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

describe('npm run cluster', () => {
  it('serves pages and the API through the front, and spreads devices over the nodes in turn', async () => {
    expect((await fetch(`${front}/login`)).status).toBe(200);
    for (let i = 1; i <= 6; i++) devices.push(await openDevice(front, await signIn(front, `agent${i}@example.com`, 'switchboard')));
    expect(await sessionsByNode()).toEqual({ 'node-1': 2, 'node-2': 2, 'node-3': 2 });
  });

  it('skips a node killed with SIGKILL: its tabs reconnect to the others within 5 s keeping their sessions, one that never comes back ends node_lost within the node timeout', async () => {
    const [victim] = await t.sql<{ pid: number; id: string }[]>`select pid, id from nodes where name = 'node-2' and stopped_at is null`;
    const stranded = (await t.sql<{ id: string }[]>`select id from device_sessions where node_id = ${victim!.id} and ended_at is null`).map((r) => r.id);
    const [returning, gone] = devices.filter((d) => stranded.includes(d.sessionId));
    expect(returning && gone).toBeTruthy();
    process.kill(victim!.pid, 'SIGKILL');
    const killedAt = Date.now();
    await gone!.close(); // this tab never comes back (closed by its user as the node died)

    // New sign-ins and devices reach the live nodes at once.
    for (let i = 7; i <= 8; i++) devices.push(await openDevice(front, await signIn(front, `agent${i}@example.com`, 'switchboard')));
    const sessionOf = async (id: string) =>
      (await t.sql<{ node: string; reason: string | null }[]>`
        select n.name as node, s.end_reason as reason from device_sessions s join nodes n on n.id = s.node_id where s.id = ${id}`)[0];
    await expect.poll(() => sessionOf(returning!.sessionId), { timeout: 5_000, interval: 100 }).toMatchObject({ reason: null, node: expect.not.stringMatching(/^node-2$/) });
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    await expect.poll(() => sessionOf(gone!.sessionId), { timeout: NODE_TIMEOUT_MS + 5_000, interval: 100 }).toMatchObject({ reason: 'node_lost' });
    // The node timeout, plus at most a sweep interval (the node heartbeat) and the sweep's own work.
    expect(Date.now() - killedAt).toBeLessThan(NODE_TIMEOUT_MS + 2_000);
    const live = await sessionsByNode();
    expect(live['node-2']).toBeUndefined();
    expect((live['node-1'] ?? 0) + (live['node-3'] ?? 0)).toBe(7); // 5 that stayed or came back, and 2 new
  });

  it('stops on SIGTERM: the front, every node (each marks itself stopped), and itself with 0', async () => {
    const exited = once(cluster, 'exit');
    cluster.kill('SIGTERM');
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
    const nodes = await t.sql<{ name: string; stopped: boolean }[]>`select name, stopped_at is not null as stopped from nodes order by name`;
    // node-2 was killed and could not mark itself; the others stopped cleanly.
    expect(nodes.map((n) => ({ ...n }))).toEqual([
      { name: 'node-1', stopped: true },
      { name: 'node-2', stopped: false },
      { name: 'node-3', stopped: true },
    ]);
  });
});
