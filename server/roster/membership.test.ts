// Live views follow membership changes made by an admin: a supervisor's
// roster and an agent's team view send a fresh snapshot when someone joins or
// leaves a team in view (or the viewer's own teams change), so a row never
// stays after it left the viewer's scope and a new one never fails to arrive.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertUser } from '../../db/queries/people';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { startTestNode } from '../testing/node';
import { httpClient, signIn, socketClient, type SocketClient } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';

let t: TestDatabase;
let node: RunningNode;
let red: Awaited<ReturnType<typeof seedTeam>>;
let blue: Awaited<ReturnType<typeof seedTeam>>;
let admin: ReturnType<typeof httpClient>;
const sockets: SocketClient[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  red = await seedTeam(t.db, { team: 'Red', agents: 2 });
  blue = await seedTeam(t.db, { team: 'Blue', agents: 2 });
  await insertUser(t.db, { email: 'admin@m.test', name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  node = await startTestNode(t.url);
  admin = httpClient(node.url, await signIn(node.url, 'admin@m.test', TEST_PASSWORD));
});
afterAll(async () => {
  for (const socket of sockets) await socket.close();
  await node?.stop();
  await t?.drop();
});

type Event = { type: 'snapshot' | 'agents'; rows?: Array<{ agentId: string }>; changes?: Array<{ row: { agentId: string } }> };

/** The agent ids a live view shows, as its client would keep them (a snapshot replaces, changes update). */
async function follow(email: string, path: 'roster.watch' | 'team.watch') {
  const socket = socketClient(node.url, await signIn(node.url, email, TEST_PASSWORD));
  sockets.push(socket);
  const shown = new Set<string>();
  let snapshots = 0;
  const onData = ({ data }: { data: Event }) => {
    if (data.type === 'snapshot') {
      snapshots += 1;
      shown.clear();
      for (const row of data.rows ?? []) shown.add(row.agentId);
    } else for (const change of data.changes ?? []) shown.add(change.row.agentId);
  };
  if (path === 'roster.watch') socket.trpc.roster.watch.subscribe(undefined, { onData: onData as never });
  else socket.trpc.team.watch.subscribe(undefined, { onData: onData as never });
  await expect.poll(() => snapshots).toBe(1);
  return { shown: () => [...shown].sort(), snapshots: () => snapshots };
}

const ids = (...agents: Array<{ id: string }>) => agents.map((a) => a.id).sort();

it('a supervisor’s roster and a teammate’s team view gain an agent who joins the team, and lose one who leaves', async () => {
  const supervisor = await follow(red.supervisor.email, 'roster.watch');
  const teammate = await follow(red.agents[0]!.email, 'team.watch');
  expect(supervisor.shown()).toEqual(ids(...red.agents));
  const newcomer = blue.agents[0]!;

  await admin.admin.members.set.mutate({ teamId: red.teamId, userId: newcomer.id, role: 'agent' });
  await expect.poll(supervisor.shown).toEqual(ids(...red.agents, newcomer));
  await expect.poll(teammate.shown).toEqual(ids(...red.agents, newcomer));

  await admin.admin.members.remove.mutate({ teamId: red.teamId, userId: newcomer.id });
  await expect.poll(supervisor.shown).toEqual(ids(...red.agents));
  await expect.poll(teammate.shown).toEqual(ids(...red.agents));
});

it('a supervisor given another team sees its agents at once, and one whose team is taken away stops seeing them', async () => {
  const supervisor = await follow(blue.supervisor.email, 'roster.watch');
  expect(supervisor.shown()).toEqual(ids(...blue.agents));
  await admin.admin.members.set.mutate({ teamId: red.teamId, userId: blue.supervisor.id, role: 'supervisor' });
  await expect.poll(supervisor.shown).toEqual(ids(...blue.agents, ...red.agents));
  await admin.admin.members.remove.mutate({ teamId: red.teamId, userId: blue.supervisor.id });
  await expect.poll(supervisor.shown).toEqual(ids(...blue.agents));
});

it('leaves views alone when only skills or capacity change', async () => {
  const supervisor = await follow(red.supervisor.email, 'roster.watch');
  await admin.admin.skills.set.mutate({ agentId: red.agents[1]!.id, skills: ['de'] });
  await admin.admin.capacity.set.mutate({ agentId: red.agents[1]!.id, capacity: { chat: 2 } });
  await admin.admin.members.set.mutate({ teamId: blue.teamId, userId: blue.agents[1]!.id, role: 'agent' }); // a no-op change elsewhere, as a marker
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(supervisor.snapshots()).toBe(1);
});
