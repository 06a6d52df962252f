// Every curl example in docs/api.md, run as written against one real node
// (issue 8), so the document cannot drift from the API. The document is read
// here at test time: each ```sh/```bash block holding curl is run by bash with
// the real curl binary (server/testing/doc-examples.ts), its placeholders
// ($SWITCHBOARD, $TOKEN, $KEY, $TEAM_ID, $AGENT_ID, $USER_ID, $TICKET_ID) set
// fresh for it alone: a new user of the role the procedure needs, signed in
// (an example may sign out or change the password), a key with the scopes it
// needs, and ids that exist. Each call must answer 2xx with `{ result }` whose
// data has the keys the document's "Output `…`" names — or, when a comment
// right above the command names an error code of the table (`# answers
// FORBIDDEN: …`), that error with its HTTP status.
//
// A new example of a procedure not in NEEDS fails, naming its line: add one
// line for the procedure (or one for its namespace, `'reports.*'`).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TRPCClient } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertTeam, type Role } from '../db/queries/people';
import { insertQueue } from '../db/queries/queues';
import { DEMO_PASSWORD, seedDemo } from '../db/seed';
import { createApiKey, type Scope } from './auth/api-keys';
import type { RunningNode } from './node';
import { httpClient, keyClient, openDevice, signIn, type SocketClient } from './testing/clients';
import { createTestDatabase, type TestDatabase } from './testing/database';
import { checkCall, parseApiDoc, runExample, type ApiDoc, type Example } from './testing/doc-examples';
import { startTestNode } from './testing/node';
import type { AppRouter } from './trpc/router';

type Needs = {
  /** The role of the new user whose sign-in is $TOKEN (agents join the demo team Billing, supervisors supervise it). */
  cookie?: Role;
  /** The scopes of the new key given as $KEY (of INTEGRATION). */
  scopes?: Scope[];
  /** $TICKET_ID: a ticket of INTEGRATION left queued, or one offered to $TOKEN's agent (online, the only one of its queue). */
  ticket?: 'queued' | 'offered';
};

/** What an example calling each procedure needs; `'<namespace>.*'` covers the procedures of a namespace not named. */
const NEEDS: Record<string, Needs> = {
  'auth.login': {}, // signs in as the demo supervisor, as written
  'auth.changePassword': { cookie: 'agent' },
  'auth.logout': { cookie: 'agent' },
  'auth.logoutEverywhere': { cookie: 'agent' },
  'auth.me': { cookie: 'agent' },
  'roster.list': { cookie: 'supervisor', scopes: ['presence:read'] },
  'roster.devices': { cookie: 'supervisor' },
  'team.list': { cookie: 'agent' },
  'system.nodes': { cookie: 'admin' },
  'presence.setStatus': { cookie: 'agent' },
  'presence.setPrivacy': { cookie: 'agent' },
  'presence.force': { cookie: 'supervisor' },
  'tickets.create': { scopes: ['tickets:write'] },
  'tickets.get': { scopes: ['tickets:read'], ticket: 'queued' },
  'tickets.list': { scopes: ['tickets:read'] },
  'tickets.cancel': { scopes: ['tickets:write'], ticket: 'queued' },
  'queues.stats': { scopes: ['tickets:read'] },
  'availability.get': {},
  'work.*': { cookie: 'agent', ticket: 'offered' },
  'keys.*': { cookie: 'admin' },
  'admin.*': { cookie: 'admin' },
  'webhooks.*': { cookie: 'admin' },
  'reports.*': { cookie: 'supervisor', scopes: ['reports:read'] },
};

/** The integration of every key and ticket here: the one the webhooks examples name. */
const INTEGRATION = 'Zendesk';
/** Placeholders that need nothing of the procedure: the base URL, the demo team Billing, new users. */
const ALWAYS = ['SWITCHBOARD', 'TEAM_ID', 'AGENT_ID', 'USER_ID'];

const DOC_PATH = 'docs/api.md';
const doc = parseApiDoc(DOC_PATH, readFileSync(new URL(`../${DOC_PATH}`, import.meta.url), 'utf8'));

function needsOf(procedure: string): Needs | undefined {
  return NEEDS[procedure] ?? NEEDS[`${procedure.split('.')[0]}.*`];
}

type Plan = { cookie?: Role; scopes: Scope[]; ticket?: 'queued' | 'offered' };

/** What an example needs, from the procedures it calls; throws naming its line when something is not known. */
function planOf(source: ApiDoc, example: Example): Plan {
  const at = `${source.name}:${example.line}`;
  const problems: string[] = [];
  const plan: Plan = { scopes: [] };
  for (const command of example.commands) {
    if (!command.procedure) problems.push(`${source.name}:${command.line}: a curl command without an /api/trpc/<procedure> URL`);
  }
  for (const procedure of example.procedures) {
    const needs = needsOf(procedure);
    if (!needs) {
      problems.push(`${at}: ${procedure} is not in NEEDS (server/api-docs.test.ts): add what its example needs, e.g. '${procedure}': { cookie: 'supervisor' }`);
      continue;
    }
    if (needs.cookie && plan.cookie && needs.cookie !== plan.cookie) problems.push(`${at}: $TOKEN would have to be both ${plan.cookie} and ${needs.cookie}`);
    if (needs.ticket && plan.ticket && needs.ticket !== plan.ticket) problems.push(`${at}: $TICKET_ID would have to be both ${plan.ticket} and ${needs.ticket}`);
    plan.cookie ??= needs.cookie;
    plan.ticket ??= needs.ticket;
    plan.scopes = [...new Set([...plan.scopes, ...(needs.scopes ?? [])])];
  }
  const procedures = example.procedures.join(', ');
  for (const variable of example.variables) {
    if (ALWAYS.includes(variable)) continue;
    if (variable === 'TOKEN' && !plan.cookie) problems.push(`${at}: $TOKEN, but NEEDS gives ${procedures} no cookie role`);
    else if (variable === 'KEY' && !plan.scopes.length) problems.push(`${at}: $KEY, but NEEDS gives ${procedures} no key scopes`);
    else if (variable === 'TICKET_ID' && !plan.ticket) problems.push(`${at}: $TICKET_ID, but NEEDS gives ${procedures} no ticket`);
    else if (!['TOKEN', 'KEY', 'TICKET_ID'].includes(variable)) {
      problems.push(`${at}: $${variable} is no placeholder this test provides (${[...ALWAYS, 'TOKEN', 'KEY', 'TICKET_ID'].join(', ')})`);
    }
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return plan;
}

let t: TestDatabase;
let node: RunningNode;
/** The demo admin, who makes each example's users. */
let admin: TRPCClient<AppRouter>;
/** INTEGRATION's key that makes the examples' tickets. */
let desk: TRPCClient<AppRouter>;
let billingId: string;
let workTeamId: string;
let users = 0;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db);
  [{ id: billingId }] = (await t.sql`select id from teams where name = 'Billing'`) as unknown as [{ id: string }];
  // Made before the node starts, which reads its queues then. Nobody works the parked queue, so its
  // tickets stay queued; the work queue has one agent online at a time, the one an example offers to.
  const parked = await insertTeam(t.db, { name: 'Docs parked' });
  await insertQueue(t.db, { name: 'docs-parked', teamId: parked.id });
  ({ id: workTeamId } = await insertTeam(t.db, { name: 'Docs work' }));
  await insertQueue(t.db, { name: 'docs-work', teamId: workTeamId, offerMode: 'offer' });
  const { key } = await createApiKey(t.db, { integration: INTEGRATION, name: 'docs fixtures', scopes: ['tickets:write', 'tickets:read'] });
  node = await startTestNode(t.url, { DISCONNECT_GRACE_MS: '300' });
  desk = keyClient(node.url, key);
  admin = httpClient(node.url, await signIn(node.url, 'admin@example.com', DEMO_PASSWORD));
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

/** A new user (password: the demo one, which auth.changePassword's example gives as current), signed in. */
async function newUser(role: Role, teamIds: string[]): Promise<{ id: string; email: string; cookie: string }> {
  users += 1;
  const email = `docs-${users}-${role}@example.test`;
  const { id } = await admin.admin.users.create.mutate({ email, name: `Docs ${role} ${users}`, role, password: DEMO_PASSWORD, teamIds });
  return { id, email, cookie: await signIn(node.url, email, DEMO_PASSWORD) };
}

/** An agent with a live device (available), as a supervisor's example finds one. */
async function onlineAgent(teamIds: string[]): Promise<{ id: string; cookie: string; device: SocketClient }> {
  const agent = await newUser('agent', teamIds);
  // Its own sign-in: the example's $TOKEN may be signed out.
  const device = await openDevice(node.url, await signIn(node.url, agent.email, DEMO_PASSWORD));
  return { ...agent, device };
}

/** The environment an example runs with; what to undo after it goes to `cleanups` as it is made. */
async function provide(example: Example, plan: Plan, cleanups: Array<() => Promise<unknown>>): Promise<Record<string, string>> {
  const uses = (name: string) => example.variables.includes(name);
  const env: Record<string, string> = { SWITCHBOARD: node.url };
  if (uses('TEAM_ID')) env.TEAM_ID = billingId;
  if (uses('USER_ID')) env.USER_ID = (await newUser('agent', [])).id;
  if (uses('AGENT_ID')) {
    const agent = await onlineAgent([billingId]);
    cleanups.push(() => agent.device.close());
    env.AGENT_ID = agent.id;
  }
  if (uses('KEY')) env.KEY = (await createApiKey(t.db, { integration: INTEGRATION, name: `docs line ${example.line}`, scopes: plan.scopes })).key;
  if (plan.ticket === 'offered') {
    const agent = await onlineAgent([workTeamId]);
    const ticket = await desk.tickets.create.mutate({ externalId: randomUUID(), queue: 'docs-work', channel: 'chat', subject: `Docs example, line ${example.line}` });
    cleanups.push(async () => {
      // Neither the ticket nor the agent may be left for the next example's offer.
      await desk.tickets.cancel.mutate({ id: ticket.id }).catch(() => undefined);
      await agent.device.trpc.presence.setStatus.mutate({ status: 'offline' });
      await agent.device.close();
    });
    await expect.poll(async () => {
      const { state, agent: to } = await desk.tickets.get.query({ id: ticket.id });
      return { state, to: to?.id };
    }).toEqual({ state: 'offered', to: agent.id });
    env.TOKEN = agent.cookie.replace(/^sb_session=/, '');
    env.TICKET_ID = ticket.id;
  } else if (plan.ticket === 'queued') {
    // The externalId the example asks for, when it names one (tickets.get's example reads a ticket by it).
    const externalId = /"externalId":"([^"]+)"/.exec(example.text)?.[1] ?? randomUUID();
    const ticket = await desk.tickets.create.mutate({ externalId, queue: 'docs-parked', channel: 'chat', subject: `Docs example, line ${example.line}` });
    env.TICKET_ID = ticket.id;
  }
  if (uses('TOKEN') && !env.TOKEN) {
    const teamIds = plan.cookie === 'admin' ? [] : [billingId];
    env.TOKEN = (await newUser(plan.cookie!, teamIds)).cookie.replace(/^sb_session=/, '');
  }
  return env;
}

/** Runs one example and returns what is wrong with its answers (nothing: as documented). */
async function problemsOf(source: ApiDoc, example: Example): Promise<string[]> {
  const plan = planOf(source, example);
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const env = await provide(example, plan, cleanups);
    const calls = await runExample(example, env);
    if (calls.length !== example.commands.length) {
      return [`${source.name}:${example.line}: ${example.commands.length} curl command(s), ${calls.length} run`];
    }
    return calls.flatMap((call, i) => checkCall(source, example.commands[i]!, call));
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

describe(`the curl examples of ${DOC_PATH}`, () => {
  it('are all in ```sh or ```bash blocks, where this test finds and runs them', () => {
    expect(doc.examples.length).toBeGreaterThan(0);
    expect(doc.strayCurls.map((line) => `${DOC_PATH}:${line}: a curl outside a \`\`\`sh or \`\`\`bash block, never run`)).toEqual([]);
  });

  for (const example of doc.examples) {
    it(`${DOC_PATH}:${example.line} (${example.procedures.join(', ')}) answers as documented`, async () => {
      expect(await problemsOf(doc, example)).toEqual([]);
    });
  }
});

describe('the example runner itself', () => {
  const scratch = (markdown: string) => parseApiDoc('scratch.md', markdown);

  it('refuses an example whose procedure or placeholder it does not know, naming the line', () => {
    const source = scratch(
      [
        '### `invoices.list` — query',
        '',
        '```sh',
        'curl "$SWITCHBOARD/api/trpc/invoices.list" -H "cookie: sb_session=$TOKEN"',
        '```',
        '',
        '```bash',
        'curl "$SWITCHBOARD/api/trpc/auth.me" -H "cookie: sb_session=$SESSION"',
        '```',
      ].join('\n'),
    );
    expect(() => planOf(source, source.examples[0]!)).toThrow(/^scratch\.md:3: invoices\.list is not in NEEDS/m);
    expect(() => planOf(source, source.examples[0]!)).toThrow(/^scratch\.md:3: \$TOKEN, but NEEDS gives invoices\.list no cookie role/m);
    expect(() => planOf(source, source.examples[1]!)).toThrow(/^scratch\.md:7: \$SESSION is no placeholder this test provides/m);
  });

  it('fails an example answered with an error it does not document, or without a documented key; passes a documented error', async () => {
    const source = scratch(
      [
        '### `auth.me` — query',
        '',
        'Output `{ user, session }`.',
        '',
        '```sh',
        'curl "$SWITCHBOARD/api/trpc/auth.me" -H "cookie: sb_session=$TOKEN"',
        '```',
        '',
        '### `roster.list` — query',
        '',
        '```sh',
        'curl "$SWITCHBOARD/api/trpc/roster.list" -H "authorization: Bearer $KEY"',
        'curl "$SWITCHBOARD/api/trpc/roster.list"',
        '# answers UNAUTHORIZED: no key, no sign-in',
        'curl "$SWITCHBOARD/api/trpc/roster.list"',
        '```',
        '',
        '| `UNAUTHORIZED` | 401 | no valid session |',
      ].join('\n'),
    );
    expect(await problemsOf(source, source.examples[0]!)).toEqual(['scratch.md:6 (auth.me): the answer lacks the documented session']);
    const problems = await problemsOf(source, source.examples[1]!);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^scratch\.md:13 \(roster\.list\): answered 401 UNAUTHORIZED/);
  });
});
