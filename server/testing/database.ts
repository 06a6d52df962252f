// A fresh, migrated database for one test file, dropped at the end.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createDb, createSql, type Db, type Sql } from '../../db/client';
import { runMigrations } from '../../db/migrate';
import { insertTeam, insertUser, type Role } from '../../db/queries/people';
import { hashPassword } from '../auth/password';

export type TestDatabase = { url: string; sql: Sql; db: Db; drop: () => Promise<void> };

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `sb_test_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  const sql = createSql(url.toString(), { max: 5 });
  return {
    url: url.toString(),
    sql,
    db: createDb(sql),
    drop: async () => {
      await sql.end({ timeout: 5 });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

export const TEST_PASSWORD = 'correct horse battery';

/** A team with `agents` agents and one supervisor, all with TEST_PASSWORD. */
export async function seedTeam(db: Db, params: { team: string; agents: number }) {
  const passwordHash = await hashPassword(TEST_PASSWORD);
  const team = await insertTeam(db, { name: params.team });
  const make = (i: number, role: Role) =>
    insertUser(db, {
      email: `${role}${i}@${params.team.toLowerCase()}.test`,
      name: `${params.team} ${role} ${i}`,
      role,
      passwordHash,
      teamIds: [team.id],
    }).then(({ id }) => ({ id, email: `${role}${i}@${params.team.toLowerCase()}.test` }));
  const agents = [];
  for (let i = 1; i <= params.agents; i++) agents.push(await make(i, 'agent'));
  const supervisor = await make(1, 'supervisor');
  return { teamId: team.id, agents, supervisor };
}
