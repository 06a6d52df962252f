// The ticketing-system example, run as its readers run it (a child process,
// `node --import tsx examples/ticketing-system.ts`), against a real node on a
// real database, with a real agent on a live device session who accepts and
// completes each offer. Asserts on what it prints, its exit code, and the
// tickets' rows: created, followed to their end, cancelled when asked, the
// webhooks verified, and a one-line error for a bad key or an absent server.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../db/queries/people';
import { insertQueue } from '../db/queries/queues';
import { createApiKey } from '../server/auth/api-keys';
import { hashPassword } from '../server/auth/password';
import type { RunningNode } from '../server/node';
import { httpClient, keyClient, openDevice, signIn, type Device } from '../server/testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../server/testing/database';
import { startTestNode } from '../server/testing/node';
import { freePort, ROOT } from '../server/testing/spawn-node';

let t: TestDatabase;
let node: RunningNode;
let agent: Device;
let agentId: string;
let admin: ReturnType<typeof httpClient>;
let key: string;
const QUEUE = 'Desk queue';
const INTEGRATION = 'Helpdesk';

beforeAll(async () => {
  t = await createTestDatabase();
  const { teamId, agents } = await seedTeam(t.db, { team: 'Desk', agents: 1 });
  agentId = agents[0]!.id;
  await insertQueue(t.db, { name: QUEUE, teamId });
  ({ key } = await createApiKey(t.db, { integration: INTEGRATION, name: 'example', scopes: ['tickets:write', 'tickets:read'] }));
  await insertUser(t.db, { email: 'admin@example.test', name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  // Offers never expire during a test: a ticket ends only by the agent or by the example.
  node = await startTestNode(t.url, { OFFER_TIMEOUT_MS: '600000', WEBHOOK_RETRY_DELAY_MS: '1000' });
  admin = httpClient(node.url, await signIn(node.url, 'admin@example.test', TEST_PASSWORD));
  // The agent, as the agent page does it: a live device, and every offer accepted, then completed.
  agent = await openDevice(node.url, await signIn(node.url, agents[0]!.email, TEST_PASSWORD));
  const answered = new Set<string>();
  agent.trpc.work.watch.subscribe(undefined, {
    onData: ({ tickets }) => {
      for (const ticket of tickets.filter((w) => w.state === 'offered' && !answered.has(w.id))) {
        answered.add(ticket.id);
        void agent.trpc.work.accept.mutate({ ticketId: ticket.id }).then(() => agent.trpc.work.complete.mutate({ ticketId: ticket.id }));
      }
    },
  });
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await node?.stop();
  await t?.drop();
}, 30_000);

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the example to its end; `whileRunning` is called with its output so far each time it prints. */
function runExample(args: string[], env: Record<string, string>, whileRunning?: (stdout: string) => void): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/ticketing-system.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, SWITCHBOARD_URL: node.url, SWITCHBOARD_KEY: key, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    run.stdout += chunk.toString();
    whileRunning?.(run.stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ...run, code });
    }),
  );
}

/** The summary's per-ticket lines: externalId, channel, priority, state, and the wait it printed (null: never accepted). */
function summaryOf(stdout: string) {
  return [...stdout.matchAll(/^ {2}(demo-\S+) +(\w+) +priority (\d) +(\w+) +(?:waited (\d+) ms for an agent|never accepted)$/gm)].map((m) => ({
    externalId: m[1]!,
    channel: m[2]!,
    priority: Number(m[3]),
    state: m[4]!,
    waitMs: m[5] === undefined ? null : Number(m[5]),
  }));
}

/** The tickets' rows, in the order of their externalIds, with create → accept as the example should print it. */
async function rowsOf(externalIds: string[]) {
  const rows = await t.sql`
    select external_id, channel, priority, state, created_at, accepted_at from tickets where external_id in ${t.sql(externalIds)}`;
  const byId = new Map(rows.map((r) => [r.external_id as string, r]));
  return externalIds.map((id) => {
    const r = byId.get(id)!;
    // Times as the API gives them, to the millisecond (a later fraction is cut, not rounded).
    const ms = (at: unknown) => new Date(at as string).getTime();
    const waitMs = r.accepted_at ? ms(r.accepted_at) - ms(r.created_at) : null;
    return { externalId: id, channel: r.channel as string, priority: r.priority as number, state: r.state as string, waitMs };
  });
}

/** Cancels what a test left waiting, before the agent is available again and takes it (and its events reach the next test). */
async function cancelOpenTickets() {
  await t.sql`
    select id from tickets where state in ('queued', 'offered')`.then((rows) =>
    Promise.all(rows.map((r) => keyClient(node.url, key).tickets.cancel.mutate({ id: r.id as string }))),
  );
}

/** The lines the example printed for one ticket's events, as [type, agent]. */
const feedLines = (stdout: string, externalId: string) =>
  [...stdout.matchAll(new RegExp(`^\\S+ {2}${externalId} {2}(\\w+) +agent (\\S+)`, 'gm'))].map((m) => [m[1], m[2]]);

describe('the ticketing-system example', () => {
  it('creates the tickets, prints each event of them, and exits 0 with a summary once the agent completed them all', async () => {
    const run = await runExample(['--tickets', '4', '--queue', QUEUE, '--timeout-ms', '20000'], {});
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/queue Desk queue: 1 agent\(s\) online, 1 available\n/);
    expect(run.stdout).toContain('\nsummary: 4 created, 4 accepted, 4 completed, 0 cancelled\n');
    const summary = summaryOf(run.stdout);
    expect(summary.map((s) => [s.channel, s.priority, s.state])).toEqual([
      ['chat', 1, 'completed'],
      ['email', 2, 'completed'],
      ['phone', 3, 'completed'],
      ['task', 4, 'completed'],
    ]);
    // What it printed is what the database holds, waits included (to the millisecond the API gives).
    expect(await rowsOf(summary.map((s) => s.externalId))).toEqual(summary);
    for (const { externalId } of summary) {
      expect(feedLines(run.stdout, externalId)).toEqual([
        ['created', '-'],
        ['offered', agentId.slice(0, 8)],
        ['accepted', agentId.slice(0, 8)],
        ['completed', agentId.slice(0, 8)],
      ]);
    }
  });

  it('cancels each ticket nobody accepted within --cancel-after-ms, and exits 0 once all are cancelled', async () => {
    // Busy: no offers, so the tickets wait.
    await agent.trpc.presence.setStatus.mutate({ status: 'busy' });
    try {
      const run = await runExample(['--tickets', '2', '--queue', QUEUE, '--cancel-after-ms', '300', '--timeout-ms', '20000'], {});
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('\nsummary: 2 created, 0 accepted, 0 completed, 2 cancelled\n');
      const summary = summaryOf(run.stdout);
      expect(summary.map((s) => [s.state, s.waitMs])).toEqual([
        ['cancelled', null],
        ['cancelled', null],
      ]);
      expect(await rowsOf(summary.map((s) => s.externalId))).toEqual(summary);
      const reasons = await t.sql`
        select e.reason from ticket_events e join tickets k on k.id = e.ticket_id
        where k.external_id in ${t.sql(summary.map((s) => s.externalId))} and e.type = 'cancelled'`;
      expect(reasons.map((r) => r.reason)).toEqual(['waited more than 300 ms', 'waited more than 300 ms']);
    } finally {
      await agent.trpc.presence.setStatus.mutate({ status: 'available' });
    }
  });

  it('stops at --timeout-ms with the tickets still open in its summary', async () => {
    await agent.trpc.presence.setStatus.mutate({ status: 'busy' });
    try {
      const run = await runExample(['--tickets', '1', '--queue', QUEUE, '--timeout-ms', '1500'], {});
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('\nsummary: 1 created, 0 accepted, 0 completed, 0 cancelled; timed out after 1500 ms, 1 still open\n');
      const summary = summaryOf(run.stdout);
      expect(summary.map((s) => s.state)).toEqual(['queued']);
      expect(await rowsOf(summary.map((s) => s.externalId))).toEqual(summary);
    } finally {
      await cancelOpenTickets();
      await agent.trpc.presence.setStatus.mutate({ status: 'available' });
    }
  });

  it('receives every event as a webhook too, verifies each signature, and refuses a wrong one', async () => {
    const port = await freePort();
    const { secret } = await admin.webhooks.set.mutate({ integration: INTEGRATION, url: `http://127.0.0.1:${port}/switchboard` });
    try {
      const run = await runExample(['--tickets', '2', '--queue', QUEUE, '--timeout-ms', '20000'], { WEBHOOK_SECRET: secret!, WEBHOOK_PORT: String(port) });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const summary = summaryOf(run.stdout);
      expect(summary.map((s) => s.state)).toEqual(['completed', 'completed']);
      for (const { externalId } of summary) {
        const verified = [...run.stdout.matchAll(new RegExp(`webhook: ${externalId} {2}(\\w+) {2}\\(signature verified\\)`, 'g'))].map((m) => m[1]);
        expect(verified).toEqual(['created', 'offered', 'accepted', 'completed']);
      }
      expect(run.stdout).toContain('\nwebhooks: 8 verified, 0 rejected\n');

      // Signed with another secret than the one it checks with: every delivery refused, none taken for genuine.
      const wrong = await runExample(['--tickets', '1', '--queue', QUEUE, '--timeout-ms', '3000'], {
        WEBHOOK_SECRET: 'whsec_not-the-webhooks-secret',
        WEBHOOK_PORT: String(port),
      });
      expect(wrong.code).toBe(0);
      expect(wrong.stdout).toContain('webhook: REJECTED, the signature does not match');
      expect(wrong.stdout).toMatch(/\nwebhooks: 0 verified, [1-9]\d* rejected; the end of 1 ticket\(s\) not received\n/);
      expect(wrong.stdout).not.toContain('(signature verified)');
    } finally {
      await admin.webhooks.set.mutate({ integration: INTEGRATION, url: `http://127.0.0.1:${port}/switchboard`, enabled: false });
    }
  });

  it('says in one line, and exits 1, when the key is refused or the server cannot be reached', async () => {
    const badKey = await runExample(['--queue', QUEUE], { SWITCHBOARD_KEY: 'sbk_not-a-key' });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^ticketing-system: SWITCHBOARD_KEY was refused by http:\/\/127\.0\.0\.1:\d+: [^\n]+\n$/);

    const url = `http://127.0.0.1:${await freePort()}`;
    const absent = await runExample(['--queue', QUEUE], { SWITCHBOARD_URL: url });
    expect(absent).toEqual({ code: 1, stdout: '', stderr: `ticketing-system: cannot reach Switchboard at ${url} (ECONNREFUSED)\n` });
  });

  it('exits 1 with one line when its key is revoked while it waits', async () => {
    const revocable = await createApiKey(t.db, { integration: INTEGRATION, name: 'to revoke', scopes: ['tickets:write', 'tickets:read'] });
    await agent.trpc.presence.setStatus.mutate({ status: 'busy' });
    try {
      let revoking: Promise<unknown> | undefined;
      const run = await runExample(['--tickets', '1', '--queue', QUEUE, '--timeout-ms', '20000'], { SWITCHBOARD_KEY: revocable.key }, (stdout) => {
        if (!revoking && stdout.includes('waiting for agents')) revoking = admin.keys.revoke.mutate({ id: revocable.id });
      });
      await revoking;
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `ticketing-system: SWITCHBOARD_KEY was refused by ${node.url}: The API key was revoked or has expired ` +
          '(Switchboard closed the socket, code 4003); this client makes no more calls; create one with a valid key\n',
      );
    } finally {
      await cancelOpenTickets();
      await agent.trpc.presence.setStatus.mutate({ status: 'available' });
    }
  });
});
