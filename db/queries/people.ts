// Queries about users, teams and browser sessions.
import { and, eq, gt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { agentPresence, authSessions, teamMembers, teams, users } from '../schema';

export type Role = (typeof users.role.enumValues)[number];
export type SessionUser = { id: string; email: string; name: string; role: Role };

export async function findUserByEmail(db: DbOrTx, params: { email: string }) {
  const [row] = await db.select().from(users).where(eq(users.email, params.email.toLowerCase()));
  return row;
}

export async function insertAuthSession(
  db: DbOrTx,
  params: { id: string; userId: string; expiresAt: Date },
): Promise<void> {
  await db.insert(authSessions).values(params);
}

/** The user of a live (unexpired) browser session, or undefined. */
export async function findSessionUser(db: DbOrTx, params: { sessionHash: string }): Promise<SessionUser | undefined> {
  const [row] = await db
    .select({ id: users.id, email: users.email, name: users.name, role: users.role })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.id, params.sessionHash), gt(authSessions.expiresAt, sql`now()`)));
  return row;
}

export async function deleteAuthSession(db: DbOrTx, params: { sessionHash: string }): Promise<void> {
  await db.delete(authSessions).where(eq(authSessions.id, params.sessionHash));
}

/** Deletes every browser session of a user; returns their ids (hashes). */
export async function deleteAuthSessionsOfUser(db: DbOrTx, params: { userId: string }): Promise<string[]> {
  const rows = await db.delete(authSessions).where(eq(authSessions.userId, params.userId)).returning({ id: authSessions.id });
  return rows.map((r) => r.id);
}

/** Whether `user` may act on `agentId`: admins on anyone, supervisors on agents of the teams they supervise. */
export async function maySupervise(db: DbOrTx, params: { user: SessionUser; agentId: string }): Promise<boolean> {
  if (params.user.role === 'admin') return true;
  if (params.user.role !== 'supervisor') return false;
  const rows = await db.execute(sql`
    select 1 from team_members mine join team_members theirs on theirs.team_id = mine.team_id
     where mine.user_id = ${params.user.id} and mine.role = 'supervisor'
       and theirs.user_id = ${params.agentId} and theirs.role = 'agent'
     limit 1`);
  return rows.length > 0;
}

export async function countUsers(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  return row?.n ?? 0;
}

export async function insertTeam(db: DbOrTx, params: { name: string }): Promise<{ id: string }> {
  const [row] = await db.insert(teams).values(params).returning({ id: teams.id });
  if (!row) throw new Error('team insert returned nothing');
  return row;
}

/** Creates a user; agents also get their (offline) presence row. */
export async function insertUser(
  db: DbOrTx,
  params: { email: string; name: string; role: Role; passwordHash: string; teamIds?: string[] },
): Promise<{ id: string }> {
  const [row] = await db
    .insert(users)
    .values({ email: params.email.toLowerCase(), name: params.name, role: params.role, passwordHash: params.passwordHash })
    .returning({ id: users.id });
  if (!row) throw new Error('user insert returned nothing');
  if (params.role === 'agent') await db.insert(agentPresence).values({ agentId: row.id });
  const memberRole = params.role === 'agent' ? ('agent' as const) : ('supervisor' as const);
  if (params.teamIds?.length) {
    await db.insert(teamMembers).values(params.teamIds.map((teamId) => ({ teamId, userId: row.id, role: memberRole })));
  }
  return row;
}

/** Team ids a supervisor may watch; undefined means every team (admins). */
export async function visibleTeamIds(db: DbOrTx, params: { user: SessionUser }): Promise<string[] | undefined> {
  if (params.user.role === 'admin') return undefined;
  return membershipTeamIds(db, { userId: params.user.id, role: 'supervisor' });
}

/** The teams a user belongs to in one member role. */
export async function membershipTeamIds(
  db: DbOrTx,
  params: { userId: string; role: 'agent' | 'supervisor' },
): Promise<string[]> {
  const rows = await db
    .select({ teamId: teamMembers.teamId })
    .from(teamMembers)
    .where(and(eq(teamMembers.userId, params.userId), eq(teamMembers.role, params.role)));
  return rows.map((r) => r.teamId);
}
