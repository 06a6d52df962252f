// The command line as an operator runs it, against a real database: a key is
// created (shown once), listed without its secret, works, is revoked, stops
// working; people and teams are made and changed with the admin pages' rules,
// each change audited as done by `cli`; ending a user's sign-ins from the
// command line ends their device sessions and tells the nodes to close sockets.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerNode } from '../db/queries/nodes';
import { insertAuthSession, insertUser } from '../db/queries/people';
import { authenticateKey } from '../server/auth/api-keys';
import { hashPassword, verifyPassword } from '../server/auth/password';
import { attachSession } from '../server/presence/store';
import { createTestDatabase, TEST_PASSWORD, type TestDatabase } from '../server/testing/database';
import { ROOT } from '../server/testing/spawn-node';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

/** Runs the command line; `stdin` is what is piped to it (a password). */
const run = (args: string[], stdin = '') => {
  const done = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/switchboard.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: t.url },
    encoding: 'utf8',
    input: stdin,
    timeout: 60_000,
  });
  return { code: done.status, out: done.stdout, err: done.stderr };
};
const cli = (...args: string[]) => run(args);

/** The newest audit row of an action, as the command line recorded it. */
const audited = async (action: string) =>
  (await t.sql`select actor_label, actor_user_id, target_type, details, address from audit_log where action = ${action} order by id desc limit 1`)[0];

describe('npm run switchboard -- keys', () => {
  it('creates a key shown once, lists it without the secret, and revokes it at once', async () => {
    const created = cli('keys', 'create', '--integration', 'Helpdesk', '--name', 'prod', '--scopes', 'tickets:write,tickets:read');
    expect(created.code).toBe(0);
    const [header, key] = created.out.trim().split('\n');
    expect(key).toMatch(/^sbk_[\w-]{43}$/);
    const id = /key id (\S+)/.exec(header!)?.[1];
    expect(await authenticateKey(t.db, key!)).toMatchObject({ integration: 'Helpdesk', scopes: ['tickets:write', 'tickets:read'] });

    const listed = cli('keys', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`${id}  ${key!.slice(0, 12)}…  Helpdesk / prod`);
    expect(listed.out).not.toContain(key);

    expect(await audited('key.create')).toMatchObject({ actor_label: 'cli', actor_user_id: null, target_type: 'key', address: null });

    expect(cli('keys', 'revoke', id!).code).toBe(0);
    expect(await audited('key.revoke')).toMatchObject({ actor_label: 'cli', details: { integration: 'Helpdesk', name: 'prod' } });
    expect(await authenticateKey(t.db, key!)).toBeUndefined();
    expect(cli('keys', 'revoke', id!)).toMatchObject({ code: 1, err: expect.stringContaining('no active key') });
  });

  it('names the bad option and exits 2', () => {
    expect(cli('keys', 'create', '--integration', 'X', '--name', 'y', '--scopes', 'tickets:write,root')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--scopes: unknown root'),
    });
    expect(cli('keys', 'frobnicate')).toMatchObject({ code: 2, err: expect.stringContaining('unknown command: keys frobnicate') });
  });
});

// Each command is a process of its own (about a second and a half each): the cases get room.
describe('npm run switchboard -- users, teams, members, skills, capacity', { timeout: 120_000 }, () => {
  const PASSWORD = 'piped in on stdin';

  it('creates a team and an agent in it, with the password read from stdin, and lists them', async () => {
    expect(cli('teams', 'create', 'Billing')).toMatchObject({ code: 0, out: expect.stringMatching(/^created team Billing \(/) });
    const created = run(['users', 'create', '--email', 'Ann@Example.com', '--name', 'Ann Agent', '--role', 'agent', '--teams', 'Billing'], `${PASSWORD}\n`);
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^created agent ann@example\.com \([0-9a-f-]{36}\) in Billing\n$/);
    const [user] = await t.sql`select id, password_hash, role from users where email = 'ann@example.com'`;
    // The trailing newline is not part of the password.
    expect(await verifyPassword(user!.password_hash as string, PASSWORD)).toBe(true);
    expect(await t.sql`select count(*)::int as n from agent_presence where agent_id = ${user!.id}`).toEqual([{ n: 1 }]);

    expect(cli('skills', 'set', 'ann@example.com', 'fr,de')).toMatchObject({ code: 0, out: 'ann@example.com: skills de,fr\n' });
    expect(cli('capacity', 'set', 'ann@example.com', '--chat', '2', '--email', '0')).toMatchObject({
      code: 0,
      out: 'ann@example.com: capacity chat=2,email=0\n',
    });
    expect(cli('users', 'list')).toMatchObject({
      code: 0,
      out: 'ann@example.com  agent  Ann Agent  teams: Billing  skills: de,fr  capacity: chat=2,email=0  active\n',
    });
    expect(cli('teams', 'list').out).toMatch(/^Billing {2}1 agent\(s\), 0 supervisor\(s\) {2}queues: - {2}\([0-9a-f-]{36}\)\n$/);

    for (const action of ['team.create', 'user.create', 'skills.set', 'capacity.set']) {
      expect(await audited(action)).toMatchObject({ actor_label: 'cli', actor_user_id: null, address: null });
    }
    expect((await audited('capacity.set'))?.details).toEqual({ email: 'ann@example.com', capacity: { chat: 2, email: 0 }, before: {} });
  });

  it('adds and removes members with the role their user has', async () => {
    expect(cli('teams', 'create', 'Technical').code).toBe(0);
    run(['users', 'create', '--email', 'sam@example.com', '--name', 'Sam Sup', '--role', 'supervisor'], PASSWORD);
    expect(cli('members', 'add', 'Technical', 'sam@example.com')).toMatchObject({ code: 0, out: 'sam@example.com is a member of Technical (supervisor)\n' });
    expect(cli('members', 'add', 'Technical', 'ann@example.com', '--role', 'supervisor')).toMatchObject({
      code: 1,
      err: "switchboard: role: ann@example.com is an agent, so a team's agent; make them a supervisor first\n",
    });
    expect(cli('members', 'remove', 'Technical', 'sam@example.com')).toMatchObject({ code: 0, out: 'removed sam@example.com from Technical\n' });
    expect(cli('members', 'add', 'Nowhere', 'sam@example.com')).toMatchObject({ code: 1, err: 'switchboard: Nowhere: no such team\n' });
    expect((await audited('member.remove'))?.details).toEqual({ team: 'Technical', email: 'sam@example.com', role: 'supervisor' });
  });

  it("deactivating ends the user's sign-ins and devices as signing out everywhere does, and tells the nodes", async () => {
    const passwordHash = await hashPassword(TEST_PASSWORD);
    const { id: agentId } = await insertUser(t.db, { email: 'dee@example.com', name: 'Dee', role: 'agent', passwordHash });
    const nodeId = randomUUID();
    await registerNode(t.db, { id: nodeId, name: 'some node', pid: 1 });
    await insertAuthSession(t.db, { id: 'signin-hash-of-dee', userId: agentId, expiresAt: new Date(Date.now() + 3_600_000) });
    const device = await attachSession(t.db, { agentId, deviceId: 'dev', clientSessionId: randomUUID(), nodeId, label: 'Laptop', authSessionId: 'signin-hash-of-dee' });
    const heard: unknown[] = [];
    const listening = await t.sql.listen('sb_control', (payload) => heard.push(JSON.parse(payload)));
    try {
      expect(cli('users', 'deactivate', 'dee@example.com')).toMatchObject({ code: 0, out: expect.stringMatching(/^dee@example\.com: agent, deactivated \d{4}-/) });
      expect(await t.sql`select count(*)::int as n from auth_sessions where user_id = ${agentId}`).toEqual([{ n: 0 }]);
      expect(await t.sql`select end_reason from device_sessions where id = ${device.sessionId}`).toEqual([{ end_reason: 'signed_out' }]);
      await expect.poll(() => heard).toEqual(
        expect.arrayContaining([
          { k: 'ended', s: [device.sessionId], r: 'signed_out' },
          { k: 'signout', h: ['signin-hash-of-dee'] },
        ]),
      );
    } finally {
      await listening.unlisten();
    }
    expect((await audited('user.update'))?.details).toEqual({ email: 'dee@example.com', changes: { deactivated: { from: false, to: true } } });
    expect(cli('users', 'reactivate', 'dee@example.com')).toMatchObject({ code: 0, out: 'dee@example.com: agent, active\n' });
  });

  it('resets a password from stdin and changes a role, refusing to leave no active admin', async () => {
    expect(run(['users', 'reset-password', 'sam@example.com'], 'another long password\n')).toMatchObject({
      code: 0,
      out: 'password of sam@example.com set; their sign-ins ended\n',
    });
    const [sam] = await t.sql`select password_hash from users where email = 'sam@example.com'`;
    expect(await verifyPassword(sam!.password_hash as string, 'another long password')).toBe(true);
    expect(JSON.stringify(await audited('user.password_reset'))).not.toContain('another long password');

    run(['users', 'create', '--email', 'boss@example.com', '--name', 'Boss', '--role', 'admin'], PASSWORD);
    expect(cli('users', 'set-role', 'boss@example.com', 'supervisor')).toMatchObject({
      code: 1,
      err: 'switchboard: role: boss@example.com is the last active admin; make another user an admin first\n',
    });
    expect(cli('users', 'set-role', 'sam@example.com', 'admin')).toMatchObject({ code: 0, out: 'sam@example.com: admin, active\n' });
    expect(cli('users', 'set-role', 'boss@example.com', 'supervisor')).toMatchObject({ code: 0, out: 'boss@example.com: supervisor, active\n' });
  });

  it('names the bad option or field and exits 2', () => {
    expect(run(['users', 'create', '--email', 'x@example.com', '--name', 'X', '--role', 'agent'], 'short')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^switchboard: password \(stdin\): .*10 characters/),
    });
    expect(cli('users', 'create', '--email', 'not-an-email', '--name', 'X', '--role', 'agent')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^switchboard: --email: /),
    });
    expect(cli('capacity', 'set', 'ann@example.com', '--chat=-1')).toMatchObject({ code: 2, err: expect.stringMatching(/^switchboard: --chat: /) });
    expect(cli('users', 'set-role', 'ann@example.com', 'king')).toMatchObject({ code: 2, err: expect.stringMatching(/^switchboard: <role>: /) });
    expect(cli('skills', 'set', 'nobody@example.com', 'de')).toMatchObject({ code: 1, err: 'switchboard: nobody@example.com: no such user\n' });
  });
});

describe('npm run switchboard -- nodes, seed', () => {
  it('lists running nodes with their live sessions; --all adds stopped and lost ones', async () => {
    const running = randomUUID();
    const stopped = randomUUID();
    const lost = randomUUID();
    await registerNode(t.db, { id: running, name: 'cli-running', pid: 4242 });
    await registerNode(t.db, { id: stopped, name: 'cli-stopped', pid: 4343 });
    await registerNode(t.db, { id: lost, name: 'cli-lost', pid: 4444 });
    await t.sql`update nodes set stopped_at = now() where id = ${stopped}`;
    await t.sql`update nodes set last_seen_at = now() - interval '1 hour' where id = ${lost}`;
    const [agent] = await t.sql<{ id: string }[]>`select id from users where role = 'agent' limit 1`;
    await attachSession(t.db, { agentId: agent!.id, deviceId: 'dev-nodes', clientSessionId: randomUUID(), nodeId: running, label: 'Laptop' });

    const now = cli('nodes', 'list');
    expect(now.code).toBe(0);
    expect(now.out).toMatch(/^cli-running {2}pid 4242 {2}running {2}started \S+ {2}renewed \S+ {2}sessions 1$/m);
    expect(now.out).not.toContain('cli-stopped');
    expect(now.out).not.toContain('cli-lost');

    const all = cli('nodes', 'list', '--all');
    expect(all.out).toMatch(/^cli-stopped {2}pid 4343 {2}stopped /m);
    expect(all.out).toMatch(/^cli-lost {2}pid 4444 {2}lost /m);
  });

  it('seeds the demo workspace only into a database without users', async () => {
    // This database has users already (the tests above): nothing happens.
    expect(cli('seed', 'demo')).toMatchObject({ code: 0, out: 'the database has users already: nothing seeded\n' });
    const fresh = await createTestDatabase();
    try {
      const seeded = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/switchboard.ts', 'seed', 'demo'], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: fresh.url },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(seeded.status).toBe(0);
      expect(seeded.stdout).toMatch(/^seeded the demo workspace; demo logins \(their password is in the README\): .*supervisor@example.com/);
      const [{ n }] = (await fresh.sql<{ n: number }[]>`select count(*)::int as n from users`) as unknown as [{ n: number }];
      expect(n).toBeGreaterThan(5);
    } finally {
      await fresh.drop();
    }
  });
});
