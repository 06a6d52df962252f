// The benchmark's database: a fresh database per mode, migrated, holding one
// team of N agents (one per simulated device), each with its presence row and
// a browser sign-in whose cookie token the device presents, in bulk
// (server/testing/bulk-agents.ts).
import postgres from 'postgres';
import { runMigrations } from '../db/migrate';
import { insertAgentsInBulk } from '../server/testing/bulk-agents';

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
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  let tokens: string[] = [];
  try {
    await sql.begin(async (tx) => {
      const [team] = await tx<{ id: string }[]>`insert into teams (name) values ('Bench') returning id`;
      if (!team) throw new Error('team insert returned nothing');
      ({ tokens } = await insertAgentsInBulk(tx, { teamId: team.id, emailPrefix: 'bench-agent', domain: 'bench.test', name: 'Bench', count }));
    });
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from auth_sessions`;
    if (row?.n !== count) throw new Error(`seeded ${row?.n ?? 0} sign-ins, expected ${count}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return tokens;
}
