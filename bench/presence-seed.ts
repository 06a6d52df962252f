// The benchmark's database: a fresh database per mode, migrated, holding one
// team of N agents (one per simulated device), each with its presence row and
// a browser sign-in whose cookie token the device presents. Bulk SQL, because
// creating 10,000 users one by one would take minutes.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { runMigrations } from '../db/migrate';
import { hashToken } from '../server/auth/service';

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops (if present) and creates database `name`; returns its URL. */
export async function createFreshDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected database name ${name}`);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Migrates the database and creates `count` agents; returns one sign-in token per agent. */
export async function seedAgents(url: string, count: number): Promise<string[]> {
  await runMigrations(url);
  const tokens = Array.from({ length: count }, () => randomBytes(32).toString('base64url'));
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql.begin(async (tx) => {
      const [team] = await tx<{ id: string }[]>`insert into teams (name) values ('Bench') returning id`;
      if (!team) throw new Error('team insert returned nothing');
      await tx`
        insert into users (email, name, role, password_hash)
        select 'bench-agent-' || i || '@bench.test', 'Bench agent ' || i, 'agent', 'bench: nobody signs in with a password'
          from generate_series(1, ${count}::int) as i`;
      await tx`insert into agent_presence (agent_id) select id from users where role = 'agent'`;
      await tx`insert into team_members (team_id, user_id, role) select ${team.id}, id, 'agent' from users where role = 'agent'`;
      await tx`
        insert into auth_sessions (id, user_id, expires_at)
        select s.hash, u.id, now() + interval '1 day'
          from unnest(${tx.array(tokens.map(hashToken))}::text[]) with ordinality as s(hash, i)
          join users u on u.email = 'bench-agent-' || s.i || '@bench.test'`;
    });
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from auth_sessions`;
    if (row?.n !== count) throw new Error(`seeded ${row?.n ?? 0} sign-ins, expected ${count}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return tokens;
}
