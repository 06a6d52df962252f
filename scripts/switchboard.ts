// The operator's command line: `npm run switchboard -- <command> [options]`.
// It works on the database the server uses: DATABASE_URL when set, else the
// embedded postgres under DATA_DIR (the running one, or started for the command).
// People, teams, skills, capacity and keys are changed through the same
// services as the admin pages (server/admin/*), checked with the same inputs,
// and recorded in the audit log as done by `cli`. Passwords are read from
// stdin, never from arguments (which other users of the machine can see).
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { createDb, createSql, type Db } from '../db/client';
import { ensureDatabase, runningEmbeddedUrl, startEmbeddedPostgres } from '../db/embedded';
import { runMigrations } from '../db/migrate';
import { listNodes } from '../db/queries/nodes';
import { seedDemo } from '../db/seed';
import { findTeam } from '../db/queries/admin';
import { findUserByEmail } from '../db/queries/people';
import { setAgentCapacity, setAgentSkills } from '../server/admin/agents';
import { AdminNotFoundError } from '../server/admin/errors';
import {
  createTeamInput,
  createUserInput,
  listAuditInput,
  resetPasswordInput,
  setCapacityInput,
  setMemberInput,
  setSkillsInput,
  updateUserInput,
} from '../server/admin/inputs';
import { createKey, revokeKey } from '../server/admin/integrations';
import { createTeam, listTeams, removeMember, setMember } from '../server/admin/teams';
import { createUser, listUsers, resetPassword, updateUser, type AdminDeps } from '../server/admin/users';
import { AUDIT_ACTIONS, CLI_ACTOR, listAudit, type AuditBy } from '../server/audit/log';
import { KEY_EXPIRY_RULE, listApiKeys, SCOPES, validKeyExpiry, type Scope } from '../server/auth/api-keys';
import { loadEnv } from '../server/env';

const USAGE = `usage: npm run switchboard -- <command> [options]

people and teams (recorded in the audit log as done by "cli"):
  users create --email <email> --name <name> --role <agent|supervisor|admin> [--teams <team,team>]
                       create a user (in these teams); the password is read from stdin
  users list           list users: email, role, name, teams, skills, capacity overrides, state
  users set-role <email> <agent|supervisor|admin>
                       change a user's role; their sign-ins end and their sockets close
  users reset-password <email>
                       set a user's password, read from stdin; their sign-ins end
  users deactivate <email>
                       refuse a user's sign-ins from now on; their sign-ins end and their sockets close
  users reactivate <email>
                       let a deactivated user sign in again
  teams create <name>  create a team
  teams list           list teams: agents, supervisors, queues
  members add <team> <email> [--role agent|supervisor]
                       add a user to a team (the role defaults to the one the user's role gives)
  members remove <team> <email>
                       remove a user from a team
  skills set <email> <skill,skill>
                       replace an agent's skills ("" for none)
  capacity set <email> [--chat N] [--email N] [--phone N] [--task N]
                       replace an agent's capacity overrides (a channel left out uses each queue's default)
  audit list [--limit N] [--action <action>]
                       the audit log, newest first (actions: ${AUDIT_ACTIONS.join(', ')})

integrations:
  keys create --integration <name> --name <name> --scopes <s1,s2> [--expires <ISO date>]
                       create an API key for an integration (created on first use); prints the key once
  keys list            list API keys (never the keys themselves)
  keys revoke <id>     revoke a key at once

operations:
  nodes list [--all]   nodes running now (renewed within NODE_TIMEOUT_MS), each with its live device sessions
                       and counters; --all adds stopped and lost nodes of the last day
  seed demo            create the demo workspace (teams, queues, demo logins) in an empty database
  migrate              apply database migrations and exit

passwords: piped on stdin, e.g. printf '%s' "$PASSWORD" | npm run switchboard -- users reset-password ann@example.com
           (never prompted for or taken as an argument; one trailing newline is dropped)
scopes: ${SCOPES.join(', ')}
database: DATABASE_URL, else the embedded postgres under DATA_DIR (default ./.data)`;

class UsageError extends Error {}

const by: AuditBy = { actor: CLI_ACTOR };

/**
 * Runs `work` on the database. Signing a user out from here ends their device
 * sessions in the database and tells the nodes, which close the sockets: what
 * a node does for sessions held on another node.
 */
async function withDatabase<T>(work: (deps: AdminDeps) => Promise<T>): Promise<T> {
  const env = loadEnv();
  let url = env.DATABASE_URL ?? runningEmbeddedUrl({ dataDir: env.DATA_DIR, database: 'switchboard' });
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    const embedded = await startEmbeddedPostgres({ dataDir: env.DATA_DIR });
    stopEmbedded = embedded.stop;
    await ensureDatabase(embedded.url('postgres'), 'switchboard');
    url = embedded.url('switchboard');
  }
  const sql = createSql(url, { max: 2, name: 'cli' });
  try {
    await runMigrations(url);
    return await work({ db: createDb(sql) });
  } finally {
    await sql.end({ timeout: 5 });
    await stopEmbedded?.();
  }
}

/** Checks a value with the admin pages' own input schema; a failure names the option (`names`) or field. */
function check<S extends z.ZodType>(schema: S, value: unknown, names: Record<string, string> = {}): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  throw new UsageError(`${names[field] ?? `--${field}`}: ${issue.message.replace(/^Invalid input: /, '')}`);
}

/** The password piped on stdin, without its trailing newline. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new UsageError(`password: pipe it on stdin, e.g. printf '%s' "$PASSWORD" | npm run switchboard -- …`);
  }
  let data = '';
  for await (const chunk of process.stdin) data += String(chunk);
  return data.replace(/\r?\n$/, '');
}

function scopesOf(value: string | undefined): Scope[] {
  const scopes = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (!scopes.length || unknown.length) {
    throw new UsageError(`--scopes: ${unknown.length ? `unknown ${unknown.join(', ')}` : 'required'} (one or more of ${SCOPES.join(', ')})`);
  }
  return scopes as Scope[];
}

const list = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function required(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`${what}: required`);
  return value;
}

async function userId(db: Db, email: string): Promise<string> {
  const user = await findUserByEmail(db, { email });
  if (!user) throw new AdminNotFoundError(`${email}: no such user`);
  return user.id;
}

async function teamId(db: Db, name: string): Promise<string> {
  const team = await findTeam(db, { name });
  if (!team) throw new AdminNotFoundError(`${name}: no such team`);
  return team.id;
}

const write = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      integration: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
      email: { type: 'string' },
      role: { type: 'string' },
      teams: { type: 'string' },
      chat: { type: 'string' },
      phone: { type: 'string' },
      task: { type: 'string' },
      limit: { type: 'string' },
      action: { type: 'string' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, action, arg, arg2] = positionals;
  if (values.help || !group) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const command = [group, action].filter(Boolean).join(' ');
  switch (command) {
    case 'users create': {
      const partial = { email: values.email, name: values.name, role: values.role };
      check(createUserInput.omit({ password: true, teamIds: true }), partial);
      const password = await readPassword();
      const user = await withDatabase(async (deps) => {
        const teamIds = await Promise.all(list(values.teams).map((name) => teamId(deps.db, name)));
        const input = check(createUserInput, { ...partial, password, teamIds }, { password: 'password (stdin)' });
        return createUser(deps, by, input);
      });
      write(`created ${user.role} ${user.email} (${user.id})${user.teams.length ? ` in ${user.teams.map((t) => t.name).join(', ')}` : ''}`);
      return 0;
    }
    case 'users list': {
      const users = await withDatabase((deps) => listUsers(deps.db));
      for (const u of users) {
        const teams = u.teams.map((t) => `${t.name}${t.role === 'supervisor' && u.role === 'agent' ? ' (supervisor)' : ''}`).join(', ');
        const capacity = Object.entries(u.capacity).map(([c, n]) => `${c}=${n}`).join(',');
        write(
          [
            u.email,
            u.role,
            u.name,
            `teams: ${teams || '-'}`,
            ...(u.role === 'agent' ? [`skills: ${u.skills.join(',') || '-'}`, `capacity: ${capacity || 'queue defaults'}`] : []),
            u.deactivatedAt ? `deactivated ${u.deactivatedAt}` : 'active',
          ].join('  '),
        );
      }
      if (!users.length) write('no users');
      return 0;
    }
    case 'users set-role':
    case 'users deactivate':
    case 'users reactivate': {
      const email = required(arg, `${command} <email>`);
      const change =
        action === 'set-role' ? { role: required(arg2, 'users set-role <email> <role>') } : { deactivated: action === 'deactivate' };
      const user = await withDatabase(async (deps) =>
        updateUser(deps, by, check(updateUserInput, { id: await userId(deps.db, email), ...change }, { role: '<role>' })),
      );
      write(`${user.email}: ${user.role}, ${user.deactivatedAt ? `deactivated ${user.deactivatedAt}` : 'active'}`);
      return 0;
    }
    case 'users reset-password': {
      const email = required(arg, 'users reset-password <email>');
      const password = await readPassword();
      await withDatabase(async (deps) =>
        resetPassword(deps, by, check(resetPasswordInput, { id: await userId(deps.db, email), password }, { password: 'password (stdin)' })),
      );
      write(`password of ${email.toLowerCase()} set; their sign-ins ended`);
      return 0;
    }
    case 'teams create': {
      const input = check(createTeamInput, { name: arg }, { name: 'teams create <name>' });
      const team = await withDatabase((deps) => createTeam(deps.db, by, input));
      write(`created team ${team.name} (${team.id})`);
      return 0;
    }
    case 'teams list': {
      const teams = await withDatabase((deps) => listTeams(deps.db));
      for (const t of teams) {
        write(`${t.name}  ${t.agents} agent(s), ${t.supervisors} supervisor(s)  queues: ${t.queues.map((q) => q.name).join(', ') || '-'}  (${t.id})`);
      }
      if (!teams.length) write('no teams');
      return 0;
    }
    case 'members add':
    case 'members remove': {
      const team = required(arg, `${command} <team> <email>`);
      const email = required(arg2, `${command} <team> <email>`);
      const done = await withDatabase(async (deps) => {
        const ids = { teamId: await teamId(deps.db, team), userId: await userId(deps.db, email) };
        if (action === 'remove') return removeMember(deps.db, by, ids).then(() => `removed ${email} from ${team}`);
        const set = await setMember(deps.db, by, check(setMemberInput, { ...ids, role: values.role }));
        return `${email} is a member of ${team} (${set.role})`;
      });
      write(done);
      return 0;
    }
    case 'skills set': {
      const email = required(arg, 'skills set <email> <skill,skill>');
      if (arg2 === undefined) throw new UsageError('skills set <email> <skill,skill>: the skills are required ("" for none)');
      const set = await withDatabase(async (deps) =>
        setAgentSkills(deps.db, by, check(setSkillsInput, { agentId: await userId(deps.db, email), skills: list(arg2) }, { skills: '<skills>' })),
      );
      write(`${email}: skills ${set.skills.join(',') || '(none)'}`);
      return 0;
    }
    case 'capacity set': {
      const email = required(arg, 'capacity set <email>');
      const given = { chat: values.chat, email: values.email, phone: values.phone, task: values.task };
      const capacity = Object.fromEntries(Object.entries(given).flatMap(([c, v]) => (v === undefined ? [] : [[c, Number(v)]])));
      const names = { 'capacity.chat': '--chat', 'capacity.email': '--email', 'capacity.phone': '--phone', 'capacity.task': '--task' };
      const set = await withDatabase(async (deps) =>
        setAgentCapacity(deps.db, by, check(setCapacityInput, { agentId: await userId(deps.db, email), capacity }, names)),
      );
      write(`${email}: capacity ${Object.entries(set.capacity).map(([c, n]) => `${c}=${n}`).join(',') || 'queue defaults'}`);
      return 0;
    }
    case 'audit list': {
      const input = check(listAuditInput, { limit: values.limit === undefined ? undefined : Number(values.limit), action: values.action });
      const { entries } = await withDatabase((deps) => listAudit(deps.db, input));
      for (const e of entries) {
        write(`${e.id}  ${e.at}  ${e.actor.label}  ${e.action}  ${e.targetType}:${e.targetId ?? '-'}  ${JSON.stringify(e.details)}${e.address ? `  from ${e.address}` : ''}`);
      }
      if (!entries.length) write('no audit entries');
      return 0;
    }
    case 'keys create': {
      if (!values.integration) throw new UsageError('--integration: required');
      if (!values.name) throw new UsageError('--name: required');
      const scopes = scopesOf(values.scopes);
      const expiresAt = values.expires ? new Date(values.expires) : undefined;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsageError('--expires: not a date (e.g. 2027-01-31)');
      if (expiresAt && !validKeyExpiry(expiresAt)) throw new UsageError(`--expires: ${KEY_EXPIRY_RULE}`);
      const created = await withDatabase((deps) =>
        createKey(deps.db, by, { integration: values.integration!, name: values.name!, scopes, expiresAt }),
      );
      write(`key id ${created.id} for integration ${values.integration} (${scopes.join(', ')})`);
      write(created.key);
      process.stderr.write('This is the only time the key is shown: store it now.\n');
      return 0;
    }
    case 'keys list': {
      const keys = await withDatabase((deps) => listApiKeys(deps.db));
      for (const k of keys) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'active';
        write(`${k.id}  ${k.prefix}…  ${k.integration} / ${k.name}  [${k.scopes.join(',')}]  ${state}  last used ${k.lastUsedAt ?? 'never'}`);
      }
      if (!keys.length) write('no API keys');
      return 0;
    }
    case 'keys revoke': {
      if (!arg || !/^[0-9a-f-]{36}$/i.test(arg)) throw new UsageError('keys revoke <id>: the key id (a uuid) is required');
      const revoked = await withDatabase((deps) => revokeKey(deps.db, by, { id: arg }));
      if (!revoked) {
        process.stderr.write(`switchboard: no active key ${arg}\n`);
        return 1;
      }
      write(`revoked ${arg}`);
      return 0;
    }
    case 'nodes list': {
      const env = loadEnv();
      const rows = await withDatabase((deps) => listNodes(deps.db, { nodeTimeoutMs: env.NODE_TIMEOUT_MS, all: Boolean(values.all) }));
      for (const n of rows) {
        const counters = n.stats ? `  connections ${n.stats.connections ?? 0}, heartbeats ${n.stats.heartbeats ?? 0}` : '';
        write(`${n.name}  pid ${n.pid}  ${n.state}  started ${n.startedAt}  renewed ${n.lastSeenAt}  sessions ${n.sessions}${counters}`);
      }
      if (!rows.length) write(values.all ? 'no nodes in the last day' : 'no node running');
      return 0;
    }
    case 'seed demo': {
      const logins = await withDatabase((deps) => seedDemo(deps.db));
      if (!logins.length) {
        write('the database has users already: nothing seeded');
        return 0;
      }
      write(`seeded the demo workspace; demo logins (their password is in the README): ${logins.map((l) => l.email).join(', ')}`);
      return 0;
    }
    case 'migrate': {
      await withDatabase(async () => undefined);
      write('migrations applied');
      return 0;
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`switchboard: ${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    // What the admin services refuse (a taken email, the last admin…) says which field: the message is enough.
    process.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
