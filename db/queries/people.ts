// Queries about users, teams and browser sessions.
import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { agentPresence, authSessions, teamMembers, teams, users } from '../schema';

export type Role = (typeof users.role.enumValues)[number];
export type SessionUser = { id: string; email: string; name: string; role: Role };

export async function findUserByEmail(db: DbOrTx, params: { email: string }) {
  const [row] = await db.select().from(users).where(eq(users.email, params.email.toLowerCase()));
  return row;
}

export async function findUserById(db: DbOrTx, params: { id: string }) {
  const [row] = await db.select().from(users).where(eq(users.id, params.id));
  return row;
}

export async function setPasswordHash(db: DbOrTx, params: { userId: string; passwordHash: string }): Promise<void> {
  await db.update(users).set({ passwordHash: params.passwordHash }).where(eq(users.id, params.userId));
}

/**
 * Deletes the sign-ins that ran out (absolute or idle), returning them with
 * their users, so that their devices can be signed out and their sockets
 * closed. First renews the sign-ins of browsers with a live device session:
 * an open tab is use, though it only heartbeats over its socket.
 */
export async function expireAuthSessions(
  db: DbOrTx,
  params: { idleMs: number },
): Promise<Array<{ id: string; userId: string; role: Role }>> {
  await db.execute(sql`
    update auth_sessions s set last_used_at = now()
     where s.last_used_at < now() - interval '1 minute'
       and exists (select 1 from device_sessions d where d.auth_session_id = s.id and d.ended_at is null)`);
  return db.execute<{ id: string; userId: string; role: Role }>(sql`
    delete from auth_sessions s using users u
     where u.id = s.user_id
       and (s.expires_at <= now() or s.last_used_at <= now() - ${params.idleMs}::int * interval '1 ms')
    returning s.id, s.user_id as "userId", u.role`);
}

export async function insertAuthSession(
  db: DbOrTx,
  params: { id: string; userId: string; expiresAt: Date },
): Promise<void> {
  await db.insert(authSessions).values(params);
}

/**
 * The user of a live browser sign-in, or undefined: one made less than its
 * absolute lifetime ago (expires_at), used within the idle timeout, by a user
 * not deactivated. Renews its last use, at most once a minute (a write per
 * minute per browser, not per request), in the same statement.
 */
export async function findSessionUser(
  db: DbOrTx,
  params: { sessionHash: string; idleMs: number },
): Promise<SessionUser | undefined> {
  const [row] = await db.execute<SessionUser>(sql`
    with renewed as (
      update auth_sessions set last_used_at = now()
       where id = ${params.sessionHash} and last_used_at < now() - interval '1 minute'
         and last_used_at > now() - ${params.idleMs}::int * interval '1 ms' and expires_at > now()
    )
    select u.id, u.email, u.name, u.role
      from auth_sessions s join users u on u.id = s.user_id
     where s.id = ${params.sessionHash} and s.expires_at > now()
       and s.last_used_at > now() - ${params.idleMs}::int * interval '1 ms'
       and u.deactivated_at is null`);
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
