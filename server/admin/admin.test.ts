// Integration: admins manage people, teams, memberships, skills and capacity
// through admin.* over real HTTP on a real node; every change is in the audit
// log with who did it and from which address; ending a user's sign-ins closes
// their open socket; the last active admin cannot be demoted or deactivated;
// routing sees a skill or capacity given through admin.* at once.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createTRPCClient, httpLink, TRPCClientError, type TRPCClient } from '@trpc/client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../../db/queries/people';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { attachSession } from '../presence/store';
import { keyClient, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import type { AppRouter } from '../trpc/router';

/** The address the admin's requests come from (the node trusts X-Forwarded-For here). */
const ADDRESS = '203.0.113.7';
const NEW_PASSWORD = 'a brand new passphrase';

let t: TestDatabase;
let node: RunningNode;
let team: Awaited<ReturnType<typeof seedTeam>>;
let adminId: string;
let admin: TRPCClient<AppRouter>;
let api: TRPCClient<AppRouter>;

/** A client of a signed-in user, sending what a page of this site sends (Origin) and the address. */
function client(cookie?: string): TRPCClient<AppRouter> {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${node.url}/api/trpc`,
        headers: { origin: node.url, 'x-forwarded-for': ADDRESS, ...(cookie ? { cookie } : {}) },
      }),
    ],
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  team = await seedTeam(t.db, { team: 'Admin', agents: 2 });
  adminId = (await insertUser(t.db, { email: 'root@admin.test', name: 'Root Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) })).id;
  node = await startTestNode(t.url, { TRUST_PROXY: 'true', ROUTING_SWEEP_MS: '60000', OFFER_TIMEOUT_MS: '60000' });
  admin = client(await signIn(node.url, 'root@admin.test', TEST_PASSWORD));
  const { key } = await createApiKey(t.db, { integration: 'Desk', name: 'tests', scopes: ['tickets:write', 'tickets:read'] });
  api = keyClient(node.url, key);
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

/** The code and message of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCClientError) return { code: (error.data as { code?: string } | undefined)?.code, message: error.message };
    throw error;
  }
  throw new Error('the call was not refused');
}

/** The newest audit entry of one action. */
async function lastAudit(action: Parameters<typeof admin.admin.audit.list.query>[0]['action']) {
  const { entries } = await admin.admin.audit.list.query({ limit: 1, action });
  return entries[0];
}

const byAdmin = { userId: expect.any(String) as unknown, keyId: null, label: 'root@admin.test' };
const newEmail = () => `user-${randomUUID().slice(0, 8)}@admin.test`;

describe('admin.users', () => {
  it('creates an agent in a team, who can sign in, and records who created them and from where', async () => {
    const email = newEmail();
    const created = await admin.admin.users.create.mutate({
      email: email.toUpperCase(),
      name: 'Nia New',
      role: 'agent',
      password: NEW_PASSWORD,
      teamIds: [team.teamId],
    });
    expect(created).toEqual({
      id: expect.any(String),
      email,
      name: 'Nia New',
      role: 'agent',
      teams: [{ id: team.teamId, name: 'Admin', role: 'agent' }],
      skills: [],
      capacity: {},
      deactivatedAt: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect((await admin.admin.users.list.query()).find((u) => u.id === created.id)).toEqual(created);
    // Every agent has a presence row (offline until a device connects).
    expect(await t.sql`select status from agent_presence where agent_id = ${created.id}`).toEqual([{ status: 'offline' }]);
    await expect(signIn(node.url, email, NEW_PASSWORD)).resolves.toMatch(/^sb_session=/);

    expect(await lastAudit('user.create')).toEqual({
      id: expect.any(Number),
      at: expect.any(String),
      actor: { ...byAdmin, userId: adminId },
      action: 'user.create',
      targetType: 'user',
      targetId: created.id,
      details: { email, name: 'Nia New', role: 'agent', teamIds: [team.teamId] },
      address: ADDRESS,
    });
  });

  it('refuses a taken email, an unknown team and a short password, naming the field', async () => {
    const input = { email: team.agents[0]!.email, name: 'Dup', role: 'agent' as const, password: NEW_PASSWORD };
    expect(await refusal(admin.admin.users.create.mutate(input))).toEqual({
      code: 'CONFLICT',
      message: `email: a user with the email ${team.agents[0]!.email} exists already`,
    });
    const missing = randomUUID();
    expect(await refusal(admin.admin.users.create.mutate({ ...input, email: newEmail(), teamIds: [missing] }))).toEqual({
      code: 'NOT_FOUND',
      message: `teamIds: no such team ${missing}`,
    });
    const short = await refusal(admin.admin.users.create.mutate({ ...input, email: newEmail(), password: 'short' }));
    expect(short.code).toBe('BAD_REQUEST');
    expect(short.message).toMatch(/^Invalid input: password: /);
  });

  it('renames a user and records only what changed', async () => {
    const user = await admin.admin.users.create.mutate({ email: newEmail(), name: 'Old Name', role: 'supervisor', password: NEW_PASSWORD });
    const cookie = await signIn(node.url, user.email, NEW_PASSWORD);
    const renamed = await admin.admin.users.update.mutate({ id: user.id, name: 'New Name', role: 'supervisor' });
    expect(renamed).toEqual({ ...user, name: 'New Name' });
    expect((await lastAudit('user.update'))?.details).toEqual({ email: user.email, changes: { name: { from: 'Old Name', to: 'New Name' } } });
    // A rename leaves the user signed in.
    expect((await client(cookie).auth.me.query()).user?.name).toBe('New Name');
  });

  it('changes a role: memberships follow it, an agent gets presence, and every sign-in of the user ends', async () => {
    const user = await admin.admin.users.create.mutate({
      email: newEmail(),
      name: 'Sue Visor',
      role: 'supervisor',
      password: NEW_PASSWORD,
      teamIds: [team.teamId],
    });
    const cookie = await signIn(node.url, user.email, NEW_PASSWORD);
    const changed = await admin.admin.users.update.mutate({ id: user.id, role: 'agent' });
    expect(changed).toEqual({ ...user, role: 'agent', teams: [{ id: team.teamId, name: 'Admin', role: 'agent' }] });
    expect(await t.sql`select count(*)::int as n from agent_presence where agent_id = ${user.id}`).toEqual([{ n: 1 }]);
    expect(await t.sql`select count(*)::int as n from auth_sessions where user_id = ${user.id}`).toEqual([{ n: 0 }]);
    expect((await client(cookie).auth.me.query()).user).toBeNull();
    expect(await lastAudit('user.update')).toMatchObject({
      actor: { ...byAdmin, userId: adminId },
      targetId: user.id,
      details: { email: user.email, changes: { role: { from: 'supervisor', to: 'agent' } } },
      address: ADDRESS,
    });
  });

  it('deactivating a user closes their open socket at once and refuses their sign-in until reactivated', async () => {
    const agent = await admin.admin.users.create.mutate({ email: newEmail(), name: 'Deb Active', role: 'agent', password: NEW_PASSWORD, teamIds: [team.teamId] });
    const cookie = await signIn(node.url, agent.email, NEW_PASSWORD);
    const socket = new WebSocket(`${node.url.replace(/^http/, 'ws')}/api/trpc`, { headers: { cookie } });
    await once(socket, 'open');
    const closed = once(socket, 'close');

    const deactivated = await admin.admin.users.update.mutate({ id: agent.id, deactivated: true });
    expect(deactivated.deactivatedAt).toMatch(/^\d{4}-/);
    await closed;
    expect(await t.sql`select count(*)::int as n from auth_sessions where user_id = ${agent.id}`).toEqual([{ n: 0 }]);
    await expect(signIn(node.url, agent.email, NEW_PASSWORD)).rejects.toThrow(/401/);
    expect((await lastAudit('user.update'))?.details).toEqual({ email: agent.email, changes: { deactivated: { from: false, to: true } } });

    expect((await admin.admin.users.update.mutate({ id: agent.id, deactivated: false })).deactivatedAt).toBeNull();
    await expect(signIn(node.url, agent.email, NEW_PASSWORD)).resolves.toMatch(/^sb_session=/);
  });

  it('resets a password: the old one stops working, every sign-in ends, and the password is not recorded', async () => {
    const agent = team.agents[1]!;
    const cookie = await signIn(node.url, agent.email, TEST_PASSWORD);
    expect(await admin.admin.users.resetPassword.mutate({ id: agent.id, password: NEW_PASSWORD })).toEqual({ ok: true });
    expect((await client(cookie).auth.me.query()).user).toBeNull();
    await expect(signIn(node.url, agent.email, TEST_PASSWORD)).rejects.toThrow(/401/);
    await expect(signIn(node.url, agent.email, NEW_PASSWORD)).resolves.toMatch(/^sb_session=/);
    const entry = await lastAudit('user.password_reset');
    expect(entry).toMatchObject({ targetId: agent.id, details: { email: agent.email }, address: ADDRESS });
    expect(JSON.stringify(entry)).not.toContain(NEW_PASSWORD);
  });

  it('refuses to demote or deactivate the last active admin, naming the field', async () => {
    expect(await refusal(admin.admin.users.update.mutate({ id: adminId, role: 'supervisor' }))).toEqual({
      code: 'CONFLICT',
      message: 'role: root@admin.test is the last active admin; make another user an admin first',
    });
    expect(await refusal(admin.admin.users.update.mutate({ id: adminId, deactivated: true }))).toEqual({
      code: 'CONFLICT',
      message: 'deactivated: root@admin.test is the last active admin; make another user an admin first',
    });
    expect(await t.sql`select role, deactivated_at from users where id = ${adminId}`).toEqual([{ role: 'admin', deactivated_at: null }]);
    // Another admin may be deactivated while one remains.
    const other = await admin.admin.users.create.mutate({ email: newEmail(), name: 'Second Admin', role: 'admin', password: NEW_PASSWORD });
    expect((await admin.admin.users.update.mutate({ id: other.id, deactivated: true })).deactivatedAt).not.toBeNull();
  });

  it('names an unknown user', async () => {
    expect(await refusal(admin.admin.users.update.mutate({ id: randomUUID(), name: 'X' }))).toEqual({ code: 'NOT_FOUND', message: 'id: no such user' });
    expect(await refusal(admin.admin.users.resetPassword.mutate({ id: randomUUID(), password: NEW_PASSWORD }))).toEqual({
      code: 'NOT_FOUND',
      message: 'id: no such user',
    });
  });
});

describe('admin.teams and admin.members', () => {
  it('creates, renames and lists a team with its counts and queues, refusing a taken name', async () => {
    const created = await admin.admin.teams.create.mutate({ name: 'Returns' });
    expect(created).toEqual({ id: expect.any(String), name: 'Returns' });
    expect(await refusal(admin.admin.teams.create.mutate({ name: 'Returns' }))).toEqual({ code: 'CONFLICT', message: 'name: a team named Returns exists already' });
    expect(await admin.admin.teams.rename.mutate({ id: created.id, name: 'Refunds' })).toEqual({ id: created.id, name: 'Refunds' });
    await insertQueue(t.db, { name: 'refunds', teamId: created.id });
    await admin.admin.members.set.mutate({ teamId: created.id, userId: team.agents[0]!.id });
    await admin.admin.members.set.mutate({ teamId: created.id, userId: team.supervisor.id });
    const listed = (await admin.admin.teams.list.query()).find((x) => x.id === created.id);
    expect(listed).toEqual({
      id: created.id,
      name: 'Refunds',
      agents: 1,
      supervisors: 1,
      queues: [{ id: expect.any(String), name: 'refunds' }],
      createdAt: expect.any(String),
    });
    expect((await lastAudit('team.rename'))?.details).toEqual({ from: 'Returns', to: 'Refunds' });
    expect(await lastAudit('team.create')).toMatchObject({ targetId: created.id, details: { name: 'Returns' }, address: ADDRESS });
  });

  it('sets and removes memberships, refusing a role that does not fit the user', async () => {
    const { id: teamId } = await admin.admin.teams.create.mutate({ name: `Members ${randomUUID().slice(0, 6)}` });
    const agent = team.agents[0]!;
    expect(await admin.admin.members.set.mutate({ teamId, userId: agent.id })).toEqual({ teamId, userId: agent.id, role: 'agent' });
    expect(await lastAudit('member.set')).toMatchObject({
      targetType: 'member',
      targetId: `${teamId}/${agent.id}`,
      details: { email: agent.email, role: 'agent', before: null },
      address: ADDRESS,
    });
    expect(await refusal(admin.admin.members.set.mutate({ teamId, userId: agent.id, role: 'supervisor' }))).toEqual({
      code: 'BAD_REQUEST',
      message: `role: ${agent.email} is an agent, so a team's agent; make them a supervisor first`,
    });
    expect(await admin.admin.members.remove.mutate({ teamId, userId: agent.id })).toEqual({ ok: true });
    expect((await lastAudit('member.remove'))?.details).toMatchObject({ email: agent.email, role: 'agent' });
    expect((await refusal(admin.admin.members.remove.mutate({ teamId, userId: agent.id }))).code).toBe('NOT_FOUND');
    expect(await refusal(admin.admin.members.set.mutate({ teamId: randomUUID(), userId: agent.id }))).toEqual({
      code: 'NOT_FOUND',
      message: 'teamId: no such team',
    });
  });

  it('deletes a team only while its queues never held a ticket', async () => {
    const busy = await admin.admin.teams.create.mutate({ name: `Busy ${randomUUID().slice(0, 6)}` });
    await insertQueue(t.db, { name: `${busy.name} queue`, teamId: busy.id });
    const ticket = await api.tickets.create.mutate({ externalId: randomUUID(), queue: `${busy.name} queue`, channel: 'chat', subject: 'Help' });
    expect(await refusal(admin.admin.teams.delete.mutate({ id: busy.id }))).toEqual({
      code: 'CONFLICT',
      message: `id: the team ${busy.name} still has 1 open ticket(s) in its queues (${busy.name} queue); complete or cancel them first`,
    });
    await api.tickets.cancel.mutate({ id: ticket.id });
    expect((await refusal(admin.admin.teams.delete.mutate({ id: busy.id }))).message).toMatch(/^id: the team .* owns queues with ticket history/);

    const empty = await admin.admin.teams.create.mutate({ name: `Empty ${randomUUID().slice(0, 6)}` });
    await insertQueue(t.db, { name: `${empty.name} queue`, teamId: empty.id });
    await admin.admin.members.set.mutate({ teamId: empty.id, userId: team.agents[0]!.id });
    expect(await admin.admin.teams.delete.mutate({ id: empty.id })).toEqual({ ok: true, deletedQueues: [`${empty.name} queue`] });
    expect((await admin.admin.teams.list.query()).some((x) => x.id === empty.id)).toBe(false);
    expect(await lastAudit('team.delete')).toMatchObject({
      targetId: empty.id,
      details: { name: empty.name, members: 1, queues: [`${empty.name} queue`] },
    });
    expect(await refusal(admin.admin.teams.delete.mutate({ id: empty.id }))).toEqual({ code: 'NOT_FOUND', message: 'id: no such team' });
  });
});

describe('skills and capacity, as routing sees them', () => {
  /** A team of one available agent with its own queue, read by routing once already. */
  async function routedAgent() {
    const name = `Route ${randomUUID().slice(0, 6)}`;
    const seeded = await seedTeam(t.db, { team: name, agents: 1 });
    const queue = `${name} queue`;
    await insertQueue(t.db, { name: queue, teamId: seeded.teamId });
    const agentId = seeded.agents[0]!.id;
    await attachSession(node.services.db, {
      agentId,
      deviceId: 'test-device',
      clientSessionId: randomUUID(),
      nodeId: node.services.engine.nodeId,
      label: 'Test device',
    });
    return { agentId, queue };
  }
  const create = (queue: string, over: Record<string, unknown> = {}) =>
    api.tickets.create.mutate({ externalId: randomUUID(), queue, channel: 'chat', subject: 'Help', ...over });
  const holder = async (id: string) => {
    const ticket = await api.tickets.get.query({ id });
    return { state: ticket.state, agentId: ticket.agent?.id ?? null };
  };

  it('offers a waiting ticket that needs a skill to the agent just given it, well before any refresh or sweep', async () => {
    const { agentId, queue } = await routedAgent();
    const waiting = await create(queue, { skills: ['de'] });
    expect(await holder(waiting.id)).toEqual({ state: 'queued', agentId: null });

    expect(await admin.admin.skills.set.mutate({ agentId, skills: ['fr', 'de', 'de'] })).toEqual({ agentId, skills: ['de', 'fr'] });
    // The team cache would re-read in 5 s and the sweep runs every 60 s here: only the notice routes it this soon.
    await expect.poll(() => holder(waiting.id), { timeout: 2_000, interval: 50 }).toEqual({ state: 'offered', agentId });
    expect(await lastAudit('skills.set')).toMatchObject({ targetType: 'agent', targetId: agentId, details: { skills: ['de', 'fr'], before: [] }, address: ADDRESS });
    expect((await admin.admin.users.list.query()).find((u) => u.id === agentId)?.skills).toEqual(['de', 'fr']);
  });

  it('offers a second chat to an agent at once when their chat capacity is raised', async () => {
    const { agentId, queue } = await routedAgent();
    expect(await admin.admin.capacity.set.mutate({ agentId, capacity: { chat: 1 } })).toEqual({ agentId, capacity: { chat: 1 } });
    const first = await create(queue);
    await expect.poll(() => holder(first.id), { timeout: 2_000, interval: 50 }).toEqual({ state: 'offered', agentId });
    const second = await create(queue);
    expect(await holder(second.id)).toEqual({ state: 'queued', agentId: null });

    await admin.admin.capacity.set.mutate({ agentId, capacity: { chat: 2, email: 0 } });
    await expect.poll(() => holder(second.id), { timeout: 2_000, interval: 50 }).toEqual({ state: 'offered', agentId });
    expect((await lastAudit('capacity.set'))?.details).toMatchObject({ capacity: { chat: 2, email: 0 }, before: { chat: 1 } });
  });

  it('refuses a negative or unknown capacity and a non-agent, naming the field', async () => {
    const { agentId } = await routedAgent();
    const negative = await refusal(admin.admin.capacity.set.mutate({ agentId, capacity: { chat: -1 } }));
    expect(negative.code).toBe('BAD_REQUEST');
    expect(negative.message).toMatch(/^Invalid input: capacity\.chat: /);
    const unknown = await refusal(admin.admin.capacity.set.mutate({ agentId, capacity: { fax: 1 } as never }));
    expect(unknown.code).toBe('BAD_REQUEST');
    expect(unknown.message).toContain('fax');
    expect(await refusal(admin.admin.skills.set.mutate({ agentId: team.supervisor.id, skills: ['x'] }))).toEqual({
      code: 'NOT_FOUND',
      message: 'agentId: no such agent',
    });
  });
});

describe('the audit log', () => {
  it('records keys made and revoked, webhooks set (without query or secret) and forced statuses', async () => {
    const created = await admin.keys.create.mutate({ integration: 'Audited', name: 'prod', scopes: ['tickets:read'] });
    expect(await lastAudit('key.create')).toMatchObject({
      targetType: 'key',
      targetId: created.id,
      details: { integration: 'Audited', name: 'prod', prefix: created.prefix, scopes: ['tickets:read'], expiresAt: null },
      address: ADDRESS,
    });
    await admin.keys.revoke.mutate({ id: created.id });
    expect(await lastAudit('key.revoke')).toMatchObject({ targetId: created.id, details: { integration: 'Audited', name: 'prod', prefix: created.prefix } });

    const set = await admin.webhooks.set.mutate({ integration: 'Audited', url: 'https://hooks.example/in?token=s3cret' });
    const hook = await lastAudit('webhook.set');
    expect(hook).toMatchObject({
      targetId: set.webhook.id,
      details: { integration: 'Audited', url: 'https://hooks.example/in', enabled: true, created: true, secretRotated: false },
    });
    expect(JSON.stringify(hook)).not.toContain('s3cret');
    expect(JSON.stringify(hook)).not.toContain(set.secret!);

    const supervisor = client(await signIn(node.url, team.supervisor.email, TEST_PASSWORD));
    await supervisor.presence.force.mutate({ agentId: team.agents[0]!.id, status: 'away', note: 'coaching' });
    expect(await lastAudit('presence.force')).toMatchObject({
      actor: { userId: team.supervisor.id, keyId: null, label: team.supervisor.email },
      targetType: 'agent',
      targetId: team.agents[0]!.id,
      details: { status: 'away', note: 'coaching', changed: true },
    });
  });

  it('pages newest first and filters by action', async () => {
    const all = (await admin.admin.audit.list.query({ limit: 200 })).entries;
    expect(all.length).toBeGreaterThan(10);
    const ids = all.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const first = await admin.admin.audit.list.query({ limit: 3 });
    expect(first.entries.map((e) => e.id)).toEqual(ids.slice(0, 3));
    expect(first.nextBefore).toBe(ids[2]);
    const second = await admin.admin.audit.list.query({ limit: 3, before: first.nextBefore! });
    expect(second.entries.map((e) => e.id)).toEqual(ids.slice(3, 6));
    const last = await admin.admin.audit.list.query({ limit: 200, before: ids.at(-1)! + 1 });
    expect(last).toEqual({ entries: [all.at(-1)], nextBefore: null });

    const creates = await admin.admin.audit.list.query({ limit: 200, action: 'team.create' });
    expect(creates.entries.length).toBe(all.filter((e) => e.action === 'team.create').length);
    expect(creates.entries.every((e) => e.action === 'team.create')).toBe(true);
    expect((await refusal(admin.admin.audit.list.query({ limit: 10, action: 'team.explode' as never }))).code).toBe('BAD_REQUEST');
  });

  it('is for admins only', async () => {
    expect((await refusal(client().admin.audit.list.query({}))).code).toBe('UNAUTHORIZED');
    const supervisor = client(await signIn(node.url, team.supervisor.email, TEST_PASSWORD));
    expect(await refusal(supervisor.admin.users.list.query())).toEqual({ code: 'FORBIDDEN', message: 'Admins only' });
    expect((await refusal(supervisor.admin.teams.create.mutate({ name: 'Sneaky' }))).code).toBe('FORBIDDEN');
  });
});

describe('two admins demoting each other at once', () => {
  it('lets exactly one succeed, so one active admin remains', async () => {
    const other = await admin.admin.users.create.mutate({ email: newEmail(), name: 'Rival Admin', role: 'admin', password: NEW_PASSWORD });
    const rival = client(await signIn(node.url, other.email, NEW_PASSWORD));
    // Deactivated admins from earlier tests do not count.
    const results = await Promise.allSettled([
      admin.admin.users.update.mutate({ id: other.id, role: 'supervisor' }),
      rival.admin.users.update.mutate({ id: adminId, role: 'supervisor' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await t.sql`select count(*)::int as n from users where role = 'admin' and deactivated_at is null`).toEqual([{ n: 1 }]);
  });
});
