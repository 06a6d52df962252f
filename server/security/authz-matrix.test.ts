// The authorization matrix: every procedure of the router, called by every
// kind of caller, through the transport a real client uses (queries and
// mutations over HTTP, subscriptions over a WebSocket), answers as the table
// below says: `ok`, or the tRPC code it is refused (or fails) with. A
// procedure added to the router without a row fails the first test.
//
// Codes other than UNAUTHORIZED and FORBIDDEN mark a caller who got past the
// checks and was then told the target does not exist for them (NOT_FOUND:
// a ticket of another team, an agent they do not supervise, a random id) —
// not a leak: the same answer as for an id that exists nowhere.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQueue } from '../../db/queries/queues';
import { insertTeam, insertUser } from '../../db/queries/people';
import { createApiKey, revokeApiKey, type Scope } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { appRouter } from '../trpc/router';
import { startTestNode } from '../testing/node';
import { signIn } from '../testing/clients';
import { createTestDatabase, TEST_PASSWORD, type TestDatabase } from '../testing/database';

const PRINCIPALS = [
  'anonymous',
  'agent',
  'otherTeamAgent',
  'supervisor',
  'otherTeamSupervisor',
  'admin',
  'key:tickets:write',
  'key:tickets:read',
  'key:presence:read',
  'key:reports:read',
  'key:admin',
  'key:revoked',
] as const;
type Principal = (typeof PRINCIPALS)[number];
type Outcome = 'ok' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_REQUEST' | 'CONFLICT';
type Expected = Record<Principal, Outcome>;

type Fixtures = {
  teamId: string;
  otherTeamId: string;
  agentId: string;
  spareAgentId: string;
  queueId: string;
  ticketId: string;
};

type Row = {
  expect: Expected;
  input?: (f: Fixtures) => unknown;
  /** The call ends the caller's sign-in (or changes its password): cookie callers sign in afresh for it. */
  fresh?: boolean;
  /** Undo what an allowed call changed, so that later rows start from the same state. */
  after?: (f: Fixtures) => Promise<void>;
  /** Sent over the WebSocket though not a subscription (it refuses HTTP). */
  ws?: true;
};

// Who may call what, by kind of caller. Keys carry no user: procedures for
// signed-in people answer them UNAUTHORIZED ("sign in first").
const everyone: Expected = {
  anonymous: 'ok', agent: 'ok', otherTeamAgent: 'ok', supervisor: 'ok', otherTeamSupervisor: 'ok', admin: 'ok',
  'key:tickets:write': 'ok', 'key:tickets:read': 'ok', 'key:presence:read': 'ok', 'key:reports:read': 'ok', 'key:admin': 'ok', 'key:revoked': 'ok',
};
const noKeys = {
  'key:tickets:write': 'UNAUTHORIZED', 'key:tickets:read': 'UNAUTHORIZED', 'key:presence:read': 'UNAUTHORIZED',
  'key:reports:read': 'UNAUTHORIZED', 'key:admin': 'UNAUTHORIZED', 'key:revoked': 'UNAUTHORIZED',
} as const;
const signedIn: Expected = { ...noKeys, anonymous: 'UNAUTHORIZED', agent: 'ok', otherTeamAgent: 'ok', supervisor: 'ok', otherTeamSupervisor: 'ok', admin: 'ok' };
const agents: Expected = { ...signedIn, supervisor: 'FORBIDDEN', otherTeamSupervisor: 'FORBIDDEN', admin: 'FORBIDDEN' };
const supervisors: Expected = { ...signedIn, agent: 'FORBIDDEN', otherTeamAgent: 'FORBIDDEN' };
const admins: Expected = { ...supervisors, supervisor: 'FORBIDDEN', otherTeamSupervisor: 'FORBIDDEN' };
/** API keys with `scope` (or `admin`); everyone else is told to send one. */
function keys(scope: Scope): Expected {
  const noScope = (s: Scope) => (s === scope ? 'ok' : 'FORBIDDEN');
  return {
    anonymous: 'UNAUTHORIZED', agent: 'UNAUTHORIZED', otherTeamAgent: 'UNAUTHORIZED', supervisor: 'UNAUTHORIZED',
    otherTeamSupervisor: 'UNAUTHORIZED', admin: 'UNAUTHORIZED',
    'key:tickets:write': noScope('tickets:write'), 'key:tickets:read': noScope('tickets:read'),
    'key:presence:read': noScope('presence:read'), 'key:reports:read': noScope('reports:read'), 'key:admin': 'ok',
    'key:revoked': 'UNAUTHORIZED',
  };
}
/** For procedures open to keys and to signed-in supervisors: people as `supervisors` says, over a key's answers. */
const signedInSupervisors = { anonymous: 'UNAUTHORIZED', agent: 'FORBIDDEN', otherTeamAgent: 'FORBIDDEN', supervisor: 'ok', otherTeamSupervisor: 'ok', admin: 'ok' } as const;
const uuid = () => randomUUID();
const reportRange = () => ({ from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date().toISOString() });

const MATRIX: Record<string, Row> = {
  'auth.login': { expect: everyone, input: () => ({ email: 'agent@t.test', password: TEST_PASSWORD }) },
  'auth.logout': { expect: everyone, fresh: true },
  'auth.logoutEverywhere': { expect: signedIn, fresh: true },
  'auth.me': { expect: everyone },
  'auth.changePassword': {
    expect: signedIn,
    fresh: true,
    input: () => ({ currentPassword: TEST_PASSWORD, newPassword: `${TEST_PASSWORD} again` }),
    after: () => resetPasswords(),
  },

  'presence.session': { expect: agents, input: () => ({ deviceId: `device-${uuid()}`, sessionId: `tab-${uuid()}` }) },
  // Over its session's socket; a session id that is not the caller's is not found.
  'presence.heartbeat': { expect: { ...agents, agent: 'NOT_FOUND', otherTeamAgent: 'NOT_FOUND' }, ws: true, input: () => ({ sessionId: uuid() }) },
  'presence.setStatus': { expect: agents, input: () => ({ status: 'available' }) },
  'presence.setPrivacy': { expect: agents, input: () => ({ hideLastSeen: false }) },
  'presence.watchSelf': { expect: agents },
  // A device session that is not the caller's own is refused.
  'presence.signOutDevice': { expect: { ...agents, agent: 'FORBIDDEN', otherTeamAgent: 'FORBIDDEN' }, input: () => ({ sessionId: uuid() }) },
  // Forcing the team's agent: their supervisor and admins only; to another team's supervisor the agent does not exist.
  'presence.force': {
    expect: { ...supervisors, otherTeamSupervisor: 'NOT_FOUND' },
    input: (f) => ({ agentId: f.agentId, status: 'away', note: 'matrix' }),
    after: (f) => resetManualStatus(f.agentId),
  },

  'roster.list': {
    expect: { ...supervisors, ...keys('presence:read'), ...signedInSupervisors },
  },
  'roster.devices': { expect: { ...supervisors, otherTeamSupervisor: 'NOT_FOUND' }, input: (f) => ({ agentId: f.agentId }) },
  'roster.watch': { expect: supervisors },
  'team.list': { expect: agents },
  'team.watch': { expect: agents },
  'system.nodes': { expect: admins },

  'tickets.create': {
    expect: keys('tickets:write'),
    input: (f) => ({ externalId: `matrix-${uuid()}`, queue: f.queueId, channel: 'email', subject: 'Matrix' }),
  },
  // The integration's own ticket; a supervisor of its queue's team; to a supervisor of another team it does not exist.
  'tickets.get': {
    expect: { ...keys('tickets:read'), supervisor: 'ok', otherTeamSupervisor: 'NOT_FOUND', admin: 'ok', agent: 'FORBIDDEN', otherTeamAgent: 'FORBIDDEN' },
    input: (f) => ({ id: f.ticketId }),
  },
  'tickets.list': { expect: keys('tickets:read') },
  'tickets.cancel': { expect: { ...keys('tickets:write'), 'key:tickets:write': 'NOT_FOUND', 'key:admin': 'NOT_FOUND' }, input: () => ({ id: uuid() }) },
  'tickets.events': { expect: keys('tickets:read') },
  'queues.stats': { expect: { ...keys('tickets:read'), ...signedInSupervisors } },
  'queues.watch': { expect: supervisors },
  // Public: counts only (docs/privacy.md).
  'availability.get': { expect: everyone, input: () => ({ queue: 'T queue' }) },

  'work.watch': { expect: agents },
  'work.accept': { expect: { ...agents, agent: 'NOT_FOUND', otherTeamAgent: 'NOT_FOUND' }, input: () => ({ ticketId: uuid() }) },
  'work.decline': { expect: { ...agents, agent: 'NOT_FOUND', otherTeamAgent: 'NOT_FOUND' }, input: () => ({ ticketId: uuid() }) },
  'work.complete': { expect: { ...agents, agent: 'NOT_FOUND', otherTeamAgent: 'NOT_FOUND' }, input: () => ({ ticketId: uuid() }) },
  'work.release': { expect: { ...agents, agent: 'NOT_FOUND', otherTeamAgent: 'NOT_FOUND' }, input: () => ({ ticketId: uuid() }) },

  'keys.create': { expect: admins, input: () => ({ integration: 'matrix', name: `k-${uuid()}`, scopes: ['tickets:read'] }) },
  'keys.list': { expect: admins },
  'keys.revoke': { expect: { ...admins, admin: 'NOT_FOUND' }, input: () => ({ id: uuid() }) },
  'webhooks.set': { expect: admins, input: () => ({ integration: 'desk', url: 'http://127.0.0.1:9/hook', enabled: false }) },
  'webhooks.get': { expect: admins, input: () => ({ integration: 'desk' }) },
  'webhooks.deliveries': { expect: admins, input: () => ({ integration: 'desk' }) },

  'admin.users.list': { expect: admins },
  'admin.users.create': {
    expect: admins,
    input: () => ({ email: `new-${uuid()}@t.test`, name: 'New Person', role: 'agent', password: 'a long enough password' }),
  },
  'admin.users.update': { expect: admins, input: (f) => ({ id: f.spareAgentId, name: `Spare ${uuid().slice(0, 4)}` }) },
  'admin.users.resetPassword': {
    expect: admins,
    input: (f) => ({ id: f.spareAgentId, password: 'another long password' }),
  },
  'admin.teams.list': { expect: admins },
  'admin.teams.create': { expect: admins, input: () => ({ name: `Team ${uuid()}` }) },
  'admin.teams.rename': { expect: admins, input: (f) => ({ id: f.otherTeamId, name: `Other ${uuid().slice(0, 8)}` }) },
  'admin.teams.delete': { expect: { ...admins, admin: 'NOT_FOUND' }, input: () => ({ id: uuid() }) },
  'admin.members.set': { expect: admins, input: (f) => ({ teamId: f.otherTeamId, userId: f.spareAgentId, role: 'agent' }) },
  'admin.members.remove': {
    expect: admins,
    input: (f) => ({ teamId: f.teamId, userId: f.spareAgentId }),
    after: (f) => t.db.execute(sql`insert into team_members (team_id, user_id, role) values (${f.teamId}, ${f.spareAgentId}, 'agent') on conflict do nothing`).then(() => {}),
  },
  'admin.skills.set': { expect: admins, input: (f) => ({ agentId: f.spareAgentId, skills: ['billing'] }) },
  'admin.capacity.set': { expect: admins, input: (f) => ({ agentId: f.spareAgentId, capacity: { chat: 2 } }) },
  'admin.audit.list': { expect: admins, input: () => ({}) },

  // Reports: supervisors (their teams' agents), admins, keys with reports:read (docs/privacy.md).
  'reports.agents': { expect: { ...keys('reports:read'), ...signedInSupervisors }, input: () => reportRange() },
  'reports.teams': { expect: { ...keys('reports:read'), ...signedInSupervisors }, input: () => reportRange() },
  'reports.overview': { expect: { ...keys('reports:read'), ...signedInSupervisors }, input: () => reportRange() },
  // One agent's days: to another team's supervisor the agent does not exist.
  'reports.daily': {
    expect: { ...keys('reports:read'), ...signedInSupervisors, otherTeamSupervisor: 'NOT_FOUND' },
    input: (f) => ({ ...reportRange(), agentId: f.agentId }),
  },
};

let t: TestDatabase;
let node: RunningNode;
let fixtures: Fixtures;
/** What each principal presents: a cookie, a key, or nothing. */
const credentials = new Map<Principal, { cookie?: string; key?: string }>();
const EMAILS: Partial<Record<Principal, string>> = {
  agent: 'agent@t.test',
  otherTeamAgent: 'agent@u.test',
  supervisor: 'supervisor@t.test',
  otherTeamSupervisor: 'supervisor@u.test',
  admin: 'admin@t.test',
};

async function resetPasswords(): Promise<void> {
  await t.db.execute(sql`update users set password_hash = ${await hashPassword(TEST_PASSWORD)}`);
}
async function resetManualStatus(agentId: string): Promise<void> {
  await t.db.execute(sql`update agent_presence set manual_status = 'available', manual_reason = 'manual' where agent_id = ${agentId}`);
}

beforeAll(async () => {
  t = await createTestDatabase();
  const passwordHash = await hashPassword(TEST_PASSWORD);
  const team = await insertTeam(t.db, { name: 'T' });
  const other = await insertTeam(t.db, { name: 'U' });
  const user = (email: string, role: 'agent' | 'supervisor' | 'admin', teamIds: string[] = []) =>
    insertUser(t.db, { email, name: email, role, passwordHash, teamIds });
  const agent = await user('agent@t.test', 'agent', [team.id]);
  await user('agent@u.test', 'agent', [other.id]);
  const spare = await user('spare@t.test', 'agent', [team.id]);
  await user('supervisor@t.test', 'supervisor', [team.id]);
  await user('supervisor@u.test', 'supervisor', [other.id]);
  await user('admin@t.test', 'admin');
  const queue = await insertQueue(t.db, { name: 'T queue', teamId: team.id });
  node = await startTestNode(t.url);

  for (const scope of ['tickets:write', 'tickets:read', 'presence:read', 'reports:read', 'admin'] as const) {
    credentials.set(`key:${scope}`, { key: (await createApiKey(t.db, { integration: 'desk', name: scope, scopes: [scope] })).key });
  }
  const revoked = await createApiKey(t.db, { integration: 'desk', name: 'revoked', scopes: ['admin'] });
  await revokeApiKey(t.db, { id: revoked.id });
  credentials.set('key:revoked', { key: revoked.key });
  credentials.set('anonymous', {});
  for (const [principal, email] of Object.entries(EMAILS)) {
    credentials.set(principal as Principal, { cookie: await signIn(node.url, email, TEST_PASSWORD) });
  }
  // The integration's ticket, in team T's queue (no agent is online: it stays queued).
  const created = await fetch(`${node.url}/api/trpc/tickets.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credentials.get('key:tickets:write')!.key}` },
    body: JSON.stringify({ externalId: 'matrix-ticket', queue: queue.id, channel: 'email', subject: 'Matrix' }),
  });
  const ticketId = ((await created.json()) as { result: { data: { id: string } } }).result.data.id;
  fixtures = { teamId: team.id, otherTeamId: other.id, agentId: agent.id, spareAgentId: spare.id, queueId: queue.id, ticketId };
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

function headersOf(who: { cookie?: string; key?: string }): Record<string, string> {
  return {
    ...(who.cookie ? { cookie: who.cookie, origin: node.url } : {}),
    ...(who.key ? { authorization: `Bearer ${who.key}` } : {}),
  };
}

async function overHttp(path: string, type: 'query' | 'mutation', input: unknown, who: { cookie?: string; key?: string }): Promise<Outcome> {
  const headers = { 'content-type': 'application/json', ...headersOf(who) };
  const res =
    type === 'query'
      ? await fetch(`${node.url}/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })
      : await fetch(`${node.url}/api/trpc/${path}`, { method: 'POST', headers, body: input === undefined ? undefined : JSON.stringify(input) });
  const body = (await res.json()) as { error?: { data: { code: Outcome } } };
  return body.error ? body.error.data.code : 'ok';
}

/** One call over a fresh WebSocket: a subscription is `ok` once it has started or sent data. */
async function overSocket(path: string, method: string, input: unknown, who: { cookie?: string; key?: string }): Promise<Outcome> {
  const socket = new WebSocket(`${node.url.replace('http', 'ws')}/api/trpc`, { headers: headersOf(who) });
  try {
    // Listening from the start: a refused connection's error (id null) comes right after the open.
    return await new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${path}: no answer in 5 s`)), 5_000);
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as { id: number | null; result?: unknown; error?: { data: { code: Outcome } } };
        if (message.id !== 1 && message.id !== null) return;
        clearTimeout(timer);
        resolve(message.error ? message.error.data.code : 'ok');
      });
      socket.on('open', () => socket.send(JSON.stringify({ id: 1, method, params: { path, input } })));
      socket.on('close', () => reject(new Error(`${path}: socket closed without an answer`)));
    });
  } finally {
    socket.removeAllListeners('close');
    socket.close();
  }
}

const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: 'query' | 'mutation' | 'subscription' } }>;

it('has a row for every procedure of the router, and none for a procedure that is gone', () => {
  expect(Object.keys(MATRIX).sort()).toEqual(Object.keys(procedures).sort());
});

describe.each(Object.keys(MATRIX).sort())('%s', (path) => {
  it('answers every kind of caller as the matrix says', async () => {
    const row = MATRIX[path]!;
    const type = procedures[path]?._def.type;
    expect(type).toBeDefined();
    const actual = {} as Record<Principal, Outcome>;
    for (const principal of PRINCIPALS) {
      let who = credentials.get(principal)!;
      if (row.fresh && EMAILS[principal]) who = { cookie: await signIn(node.url, EMAILS[principal]!, TEST_PASSWORD) };
      const input = row.input?.(fixtures);
      actual[principal] =
        type === 'subscription' || row.ws ? await overSocket(path, type!, input, who) : await overHttp(path, type!, input, who);
      await row.after?.(fixtures);
      // Signing out everywhere (or a new password) ended the principal's usual sign-in too.
      if (row.fresh && EMAILS[principal]) credentials.set(principal, { cookie: await signIn(node.url, EMAILS[principal]!, TEST_PASSWORD) });
    }
    expect(actual).toEqual(row.expect);
  });
});
