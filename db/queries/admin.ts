// Queries behind the admin pages and commands: people with their teams,
// skills and capacity overrides; teams with their counts and queues; the
// locks that keep at least one active admin; memberships.
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { agentPresence, agentRouting, agentSkills, apiKeys, integrations, teamMembers, teams, users, type Capacity } from '../schema';
import type { Role } from './people';

export type MemberRole = 'agent' | 'supervisor';

export type AdminUser = {
  id: string;
  email: string;
  name: string;
  role: Role;
  teams: Array<{ id: string; name: string; role: MemberRole }>;
  skills: string[];
  /** Per-channel overrides of the queues' defaults (channels left out use the default). */
  capacity: Partial<Capacity>;
  deactivatedAt: string | null;
  createdAt: string;
};

/** Every user with their teams (by name), skills (sorted) and capacity overrides, by name. */
export async function listAdminUsers(db: DbOrTx, params: { id?: string } = {}): Promise<AdminUser[]> {
  const rows = await db.execute<Omit<AdminUser, 'deactivatedAt' | 'createdAt'> & { deactivatedAt: string | null; createdAt: string }>(sql`
    select u.id, u.email, u.name, u.role,
           coalesce((select json_agg(json_build_object('id', t.id, 'name', t.name, 'role', tm.role) order by t.name)
                       from team_members tm join teams t on t.id = tm.team_id where tm.user_id = u.id), '[]') as teams,
           coalesce((select array_agg(s.skill order by s.skill) from agent_skills s where s.agent_id = u.id), '{}') as skills,
           coalesce((select r.capacity from agent_routing r where r.agent_id = u.id), '{}') as capacity,
           u.deactivated_at as "deactivatedAt", u.created_at as "createdAt"
      from users u
     where ${params.id === undefined ? sql`true` : sql`u.id = ${params.id}::uuid`}
     order by lower(u.name), u.email`);
  const iso = (value: string | null) => (value === null ? null : new Date(value).toISOString());
  return rows.map((r) => ({ ...r, deactivatedAt: iso(r.deactivatedAt), createdAt: new Date(r.createdAt).toISOString() }));
}

// Users are locked FOR NO KEY UPDATE, not FOR UPDATE: what an admin changes of
// a user is never its id, and the stronger lock would conflict with the KEY
// SHARE lock every insert naming a user takes (an audit row's actor, a
// membership), so that an admin's audit row in one transaction and a lock of
// that admin in another could deadlock.

/** One user, locked until the transaction ends. */
export async function lockUser(db: DbOrTx, params: { id: string }) {
  const [row] = await db.select().from(users).where(eq(users.id, params.id)).for('no key update');
  return row;
}

/**
 * Locks every active admin (in id order, so two transactions lock alike and
 * cannot deadlock) and returns their ids: a change that would leave none is
 * seen by the next one, which waits here.
 */
export async function lockActiveAdmins(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), isNull(users.deactivatedAt)))
    .orderBy(asc(users.id))
    .for('no key update');
  return rows.map((r) => r.id);
}

export async function updateUserRow(
  db: DbOrTx,
  params: { id: string; name?: string; role?: Role; deactivated?: boolean },
): Promise<void> {
  await db
    .update(users)
    .set({
      ...(params.name !== undefined ? { name: params.name } : {}),
      ...(params.role !== undefined ? { role: params.role } : {}),
      ...(params.deactivated !== undefined ? { deactivatedAt: params.deactivated ? sql`now()` : null } : {}),
    })
    .where(eq(users.id, params.id));
}

/**
 * Makes a user's memberships follow their role (an agent is a team's agent;
 * supervisors and admins supervise), and gives a new agent the presence row
 * every agent has. Returns the teams whose members changed role.
 */
export async function followRole(db: DbOrTx, params: { userId: string; role: Role }): Promise<string[]> {
  const memberRole: MemberRole = params.role === 'agent' ? 'agent' : 'supervisor';
  if (params.role === 'agent') await db.insert(agentPresence).values({ agentId: params.userId }).onConflictDoNothing();
  const rows = await db
    .update(teamMembers)
    .set({ role: memberRole })
    .where(and(eq(teamMembers.userId, params.userId), sql`${teamMembers.role} <> ${memberRole}`))
    .returning({ teamId: teamMembers.teamId });
  return rows.map((r) => r.teamId);
}

export type AdminTeam = {
  id: string;
  name: string;
  agents: number;
  supervisors: number;
  queues: Array<{ id: string; name: string }>;
  createdAt: string;
};

export async function listAdminTeams(db: DbOrTx): Promise<AdminTeam[]> {
  const rows = await db.execute<Omit<AdminTeam, 'createdAt'> & { createdAt: string }>(sql`
    select t.id, t.name,
           (select count(*)::int from team_members tm where tm.team_id = t.id and tm.role = 'agent') as agents,
           (select count(*)::int from team_members tm where tm.team_id = t.id and tm.role = 'supervisor') as supervisors,
           coalesce((select json_agg(json_build_object('id', q.id, 'name', q.name) order by q.name)
                       from queues q where q.team_id = t.id), '[]') as queues,
           t.created_at as "createdAt"
      from teams t
     order by lower(t.name)`);
  return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() }));
}

export async function findTeam(db: DbOrTx, params: { id: string } | { name: string }) {
  const [row] = await db
    .select()
    .from(teams)
    .where('id' in params ? eq(teams.id, params.id) : eq(teams.name, params.name));
  return row;
}

export async function lockTeam(db: DbOrTx, params: { id: string }) {
  const [row] = await db.select().from(teams).where(eq(teams.id, params.id)).for('update');
  return row;
}

export async function renameTeamRow(db: DbOrTx, params: { id: string; name: string }): Promise<void> {
  await db.update(teams).set({ name: params.name }).where(eq(teams.id, params.id));
}

/**
 * The team's queues, locked (a ticket created into one waits, then finds it
 * gone), with their open tickets (queued, offered, assigned) and all tickets.
 */
export async function lockTeamQueues(
  db: DbOrTx,
  params: { teamId: string },
): Promise<Array<{ id: string; name: string; open: number; tickets: number }>> {
  const queues = await db.execute<{ id: string; name: string }>(
    sql`select id, name from queues where team_id = ${params.teamId}::uuid order by name for update`,
  );
  if (!queues.length) return [];
  const counts = await db.execute<{ queueId: string; open: number; tickets: number }>(sql`
    select queue_id as "queueId",
           count(*) filter (where state in ('queued', 'offered', 'assigned'))::int as open,
           count(*)::int as tickets
      from tickets
     where queue_id in (select id from queues where team_id = ${params.teamId}::uuid)
     group by queue_id`);
  const byQueue = new Map(counts.map((c) => [c.queueId, c]));
  return queues.map((q) => ({ ...q, open: byQueue.get(q.id)?.open ?? 0, tickets: byQueue.get(q.id)?.tickets ?? 0 }));
}

/** Deletes a team; its memberships and (ticketless) queues go with it. Returns its members' ids. */
export async function deleteTeamRow(db: DbOrTx, params: { id: string }): Promise<string[]> {
  const members = await db.select({ userId: teamMembers.userId }).from(teamMembers).where(eq(teamMembers.teamId, params.id));
  await db.delete(teams).where(eq(teams.id, params.id));
  return members.map((m) => m.userId);
}

/** Adds a member or changes their role; returns the role they had before (undefined: not a member). */
export async function upsertMember(
  db: DbOrTx,
  params: { teamId: string; userId: string; role: MemberRole },
): Promise<MemberRole | undefined> {
  const [before] = await db
    .select({ role: teamMembers.role })
    .from(teamMembers)
    .where(and(eq(teamMembers.teamId, params.teamId), eq(teamMembers.userId, params.userId)))
    .for('update');
  await db
    .insert(teamMembers)
    .values(params)
    .onConflictDoUpdate({ target: [teamMembers.teamId, teamMembers.userId], set: { role: params.role } });
  return before?.role;
}

/** Removes a member; returns the role they had (undefined: was not a member). */
export async function deleteMember(db: DbOrTx, params: { teamId: string; userId: string }): Promise<MemberRole | undefined> {
  const [row] = await db
    .delete(teamMembers)
    .where(and(eq(teamMembers.teamId, params.teamId), eq(teamMembers.userId, params.userId)))
    .returning({ role: teamMembers.role });
  return row?.role;
}

/** The teams a user belongs to, in any role. */
export async function teamIdsOf(db: DbOrTx, params: { userId: string }): Promise<string[]> {
  const rows = await db.select({ teamId: teamMembers.teamId }).from(teamMembers).where(eq(teamMembers.userId, params.userId));
  return rows.map((r) => r.teamId);
}

/** Ids of these teams that exist. */
export async function existingTeamIds(db: DbOrTx, params: { ids: readonly string[] }): Promise<Set<string>> {
  if (!params.ids.length) return new Set();
  const rows = await db.execute<{ id: string }>(
    sql`select id from teams where id in (${sql.join(params.ids.map((id) => sql`${id}::uuid`), sql`, `)})`,
  );
  return new Set(rows.map((r) => r.id));
}

/** An agent's skills (sorted), locked until the transaction ends. */
export async function lockSkills(db: DbOrTx, params: { agentId: string }): Promise<string[]> {
  const rows = await db.select({ skill: agentSkills.skill }).from(agentSkills).where(eq(agentSkills.agentId, params.agentId)).for('update');
  return rows.map((r) => r.skill).sort();
}

/** An agent's capacity overrides, locked until the transaction ends. */
export async function lockCapacity(db: DbOrTx, params: { agentId: string }): Promise<Partial<Capacity>> {
  const [row] = await db.select({ capacity: agentRouting.capacity }).from(agentRouting).where(eq(agentRouting.agentId, params.agentId)).for('update');
  return row?.capacity ?? {};
}

/** An API key's name, prefix and integration (for the audit log), or undefined. */
export async function findKeyLabel(db: DbOrTx, params: { id: string }): Promise<{ name: string; prefix: string; integration: string } | undefined> {
  const [row] = await db
    .select({ name: apiKeys.name, prefix: apiKeys.prefix, integration: integrations.name })
    .from(apiKeys)
    .innerJoin(integrations, eq(integrations.id, apiKeys.integrationId))
    .where(eq(apiKeys.id, params.id));
  return row;
}
