// Integration: a roster subscriber that stops reading while 10,000 changes are
// made holds at most one pending row per agent (memory bounded by the roster,
// not by the traffic), and once it reads again it ends with the right rows.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { startTestNode } from '../testing/node';
import { changeAgent } from '../presence/store';
import { deliveryStats } from '../realtime/mailbox';
import { insertUser } from '../../db/queries/people';
import { hashPassword } from '../auth/password';
import { httpClient, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { CHANGES_PER_MESSAGE, SOCKET_HIGH_WATER_BYTES, watchRoster } from './service';

let t: TestDatabase;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;
const AGENTS = 20;
const CHANGES = 10_000;
const STATUSES = ['busy', 'away', 'available', 'offline'] as const;

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Slow', agents: AGENTS });
  node = await startTestNode(t.url);
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

it('keeps a stopped reader to one pending row per agent through 10,000 changes, then converges', { timeout: 120_000 }, async () => {
  const [supervisor] = await t.sql`select id, email, name, role from users where id = ${team.supervisor.id}`;
  const controller = new AbortController();
  // The reader's socket is backed up: the generator must not hand it more.
  const socket = { bufferedAmount: SOCKET_HIGH_WATER_BYTES * 4 };
  const roster = watchRoster(node.services, {
    user: supervisor as never,
    socket,
    signal: controller.signal,
  });
  const shown = new Map<string, { status: string; version: number }>();
  const first = await roster.next();
  if (first.done || first.value.type !== 'snapshot') throw new Error('expected a snapshot first');
  for (const row of first.value.rows) shown.set(row.agentId, row);

  const agentIds = team.agents.map((a) => a.id);
  // One change goes through; the next pull then waits for the socket to drain.
  await changeAgent(node.services.db, { agentId: agentIds[0]!, manual: { status: 'busy', reason: 'manual' } });
  const one = await roster.next();
  if (one.done || one.value.type !== 'agents' || one.value.changes.length !== 1) throw new Error('expected one change');
  for (const { row } of one.value.changes) shown.set(row.agentId, row);
  const waiting = roster.next();

  const coalescedBefore = deliveryStats.coalesced;
  await Promise.all(
    agentIds.map(async (agentId) => {
      for (let i = 0; i < CHANGES / AGENTS; i++) {
        await changeAgent(node.services.db, { agentId, manual: { status: STATUSES[i % 4]!, reason: 'manual' } });
      }
    }),
  );
  await node.services.hub.ring(); // every change has reached the hub and the mailbox
  const coalesced = deliveryStats.coalesced - coalescedBefore;
  // Of 10,000 deliveries, all but at most ~1,000 (before coalescing began) plus one per agent were folded.
  expect(coalesced).toBeGreaterThanOrEqual(CHANGES - 1_000 - AGENTS);

  // The reader drains its socket and reads again.
  socket.bufferedAmount = 0;
  // Keyed in agentIds order on both sides, so the comparison does not depend on the table's row order.
  const truth = async () => {
    const rows = await t.sql`select agent_id, status, version from agent_presence where agent_id in ${t.sql(agentIds)}`;
    const byId = new Map(rows.map((r) => [r.agent_id as string, `${r.status}@${r.version}`]));
    return Object.fromEntries(agentIds.map((id) => [id, byId.get(id)]));
  };
  const expected = await truth();
  const view = () => Object.fromEntries(agentIds.map((id) => [id, `${shown.get(id)?.status}@${shown.get(id)?.version}`]));
  let received = 0;
  let messages = 0;
  let next = await waiting;
  for (;;) {
    if (next.done) break;
    if (next.value.type === 'agents') for (const { row } of next.value.changes) shown.set(row.agentId, row);
    received += next.value.type === 'agents' ? next.value.changes.length : 1;
    messages += 1;
    if (JSON.stringify(view()) === JSON.stringify(expected)) break;
    next = await roster.next();
  }
  expect(view()).toEqual(expected);
  expect(received).toBeLessThanOrEqual(1_000 + AGENTS);
  // What waited goes out together: full messages, not one per change.
  expect(messages).toBeLessThanOrEqual(Math.ceil(received / CHANGES_PER_MESSAGE) + 1);
  controller.abort();
  await roster.return(undefined);

  // Operators see the folding: an admin's system.nodes shows this node's count.
  await insertUser(t.db, { email: 'ops@slow.test', name: 'Ops', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  const admin = httpClient(node.url, await signIn(node.url, 'ops@slow.test', TEST_PASSWORD));
  const nodes = await admin.system.nodes.query();
  const self = nodes.find((n) => n.self);
  expect(self?.id).toBe(node.services.engine.nodeId);
  expect(self?.stats?.deliveriesCoalesced).toBeGreaterThanOrEqual(coalesced);
  expect(self?.stats?.subscribersDropped).toBe(deliveryStats.overflowed);
});

it('does the same for a view writing its own frames to a socket that stops draining', { timeout: 120_000 }, async () => {
  const [supervisor] = await t.sql`select id, email, name, role from users where id = ${team.supervisor.id}`;
  const controller = new AbortController();
  type Data = { type: string; rows?: Array<{ agentId: string; status: string; version: number }>; changes?: Array<{ row: { agentId: string; status: string; version: number } }> };
  const messages: Data[] = [];
  const socket = {
    bufferedAmount: 0,
    send: (text: string) => messages.push((JSON.parse(text) as { result: { data: { data: Data } } }).result.data.data),
  };
  // Yields nothing: it writes to the socket, and ends when the subscription does.
  const ended = watchRoster(node.services, { user: supervisor as never, target: { socket, id: 1, jsonrpc: false }, signal: controller.signal }).next();
  await expect.poll(() => messages.length).toBe(1);
  const shown = new Map<string, { status: string; version: number }>();
  const apply = (from: number) => {
    for (const message of messages.slice(from)) for (const row of message.rows ?? message.changes?.map((c) => c.row) ?? []) shown.set(row.agentId, row);
  };

  const agentIds = team.agents.map((a) => a.id);
  await changeAgent(node.services.db, { agentId: agentIds[0]!, manual: { status: 'busy', reason: 'manual' } });
  await expect.poll(() => messages.length).toBe(2);
  socket.bufferedAmount = SOCKET_HIGH_WATER_BYTES * 4; // the reader stopped: its socket backs up

  const coalescedBefore = deliveryStats.coalesced;
  await Promise.all(
    agentIds.map(async (agentId) => {
      for (let i = 0; i < CHANGES / AGENTS; i++) {
        await changeAgent(node.services.db, { agentId, manual: { status: STATUSES[(i + 1) % 4]!, reason: 'manual' } });
      }
    }),
  );
  await node.services.hub.ring();
  expect(messages.length).toBeLessThanOrEqual(3); // at most the one that found the socket still below the mark
  expect(deliveryStats.coalesced - coalescedBefore).toBeGreaterThanOrEqual(CHANGES - 1_000 - AGENTS);

  const rows = await t.sql`select agent_id, status, version from agent_presence where agent_id in ${t.sql(agentIds)}`;
  const expected = Object.fromEntries(rows.map((r) => [r.agent_id as string, `${r.status}@${r.version}`]));
  const before = messages.length;
  socket.bufferedAmount = 0; // it reads again
  const view = () => Object.fromEntries(agentIds.map((id) => [id, `${shown.get(id)?.status}@${shown.get(id)?.version}`]));
  await expect.poll(() => (apply(0), view()), { timeout: 5_000 }).toEqual(expected);
  const received = messages.slice(before).reduce((n, m) => n + (m.changes?.length ?? 0), 0);
  expect(received).toBeLessThanOrEqual(1_000 + AGENTS);
  controller.abort();
  expect((await ended).done).toBe(true);
});
