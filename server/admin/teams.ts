// Admin work on teams and memberships. Each change and its audit row commit
// together, with the notice that makes every node's routing read the team
// again (server/routing/team-changes.ts).
// Invariants: a team whose queues hold open tickets, or keep tickets' history,
// is not deleted (its tickets would lose their queue); a member's role in a
// team matches their role (agents are a team's agents, supervisors and admins
// supervise it).
import type { Db } from '../../db/client';
import {
  deleteMember,
  deleteTeamRow,
  findTeam,
  listAdminTeams,
  lockTeam,
  lockTeamQueues,
  renameTeamRow,
  upsertMember,
  type AdminTeam,
  type MemberRole,
} from '../../db/queries/admin';
import { findUserById, insertTeam } from '../../db/queries/people';
import { recordAudit, type AuditBy } from '../audit/log';
import { announceTeamChange } from '../routing/team-changes';
import { AdminConflictError, AdminInputError, AdminNotFoundError, isUniqueViolation } from './errors';

export function listTeams(db: Db): Promise<AdminTeam[]> {
  return listAdminTeams(db);
}

const nameTaken = (name: string) => (error: unknown) => {
  if (isUniqueViolation(error)) throw new AdminConflictError(`name: a team named ${name} exists already`);
  throw error;
};

export async function createTeam(db: Db, by: AuditBy, input: { name: string }): Promise<{ id: string; name: string }> {
  return db
    .transaction(async (tx) => {
      const { id } = await insertTeam(tx, { name: input.name });
      await recordAudit(tx, { ...by, action: 'team.create', targetType: 'team', targetId: id, details: { name: input.name } });
      return { id, name: input.name };
    })
    .catch(nameTaken(input.name));
}

export async function renameTeam(db: Db, by: AuditBy, input: { id: string; name: string }): Promise<{ id: string; name: string }> {
  return db
    .transaction(async (tx) => {
      const team = await lockTeam(tx, { id: input.id });
      if (!team) throw new AdminNotFoundError('id: no such team');
      if (team.name !== input.name) {
        await renameTeamRow(tx, input);
        await recordAudit(tx, { ...by, action: 'team.rename', targetType: 'team', targetId: team.id, details: { from: team.name, to: input.name } });
      }
      return { id: team.id, name: input.name };
    })
    .catch(nameTaken(input.name));
}

/** Deletes a team with its memberships and its queues, which must never have had a ticket. */
export async function deleteTeam(db: Db, by: AuditBy, input: { id: string }): Promise<{ ok: true; deletedQueues: string[] }> {
  return db.transaction(async (tx) => {
    const team = await lockTeam(tx, { id: input.id });
    if (!team) throw new AdminNotFoundError('id: no such team');
    const queues = await lockTeamQueues(tx, { teamId: team.id });
    const open = queues.reduce((n, q) => n + q.open, 0);
    const held = queues.filter((q) => q.tickets > 0);
    if (open > 0) {
      const names = queues.filter((q) => q.open > 0).map((q) => q.name).join(', ');
      throw new AdminConflictError(`id: the team ${team.name} still has ${open} open ticket(s) in its queues (${names}); complete or cancel them first`);
    }
    if (held.length) {
      throw new AdminConflictError(
        `id: the team ${team.name} owns queues with ticket history (${held.map((q) => q.name).join(', ')}); ` +
          'a team is deleted only while its queues never had a ticket, so that no ticket loses its queue',
      );
    }
    const members = await deleteTeamRow(tx, { id: team.id });
    const deletedQueues = queues.map((q) => q.name);
    await recordAudit(tx, {
      ...by,
      action: 'team.delete',
      targetType: 'team',
      targetId: team.id,
      details: { name: team.name, members: members.length, queues: deletedQueues },
    });
    await announceTeamChange(tx, { teamIds: [team.id], agentIds: members });
    return { ok: true as const, deletedQueues };
  });
}

/** Adds a user to a team, or changes their role in it. */
export async function setMember(
  db: Db,
  by: AuditBy,
  input: { teamId: string; userId: string; role?: MemberRole },
): Promise<{ teamId: string; userId: string; role: MemberRole }> {
  return db.transaction(async (tx) => {
    const team = await lockTeam(tx, { id: input.teamId });
    if (!team) throw new AdminNotFoundError('teamId: no such team');
    const user = await findUserById(tx, { id: input.userId });
    if (!user) throw new AdminNotFoundError('userId: no such user');
    const fits: MemberRole = user.role === 'agent' ? 'agent' : 'supervisor';
    const role = input.role ?? fits;
    if (role !== fits) {
      throw new AdminInputError(
        user.role === 'agent'
          ? `role: ${user.email} is an agent, so a team's agent; make them a supervisor first`
          : `role: ${user.email} is ${user.role === 'admin' ? 'an admin' : 'a supervisor'}, so supervises a team; make them an agent first`,
      );
    }
    const before = await upsertMember(tx, { teamId: team.id, userId: user.id, role });
    if (before !== role) {
      await recordAudit(tx, {
        ...by,
        action: 'member.set',
        targetType: 'member',
        targetId: `${team.id}/${user.id}`,
        details: { team: team.name, email: user.email, role, before: before ?? null },
      });
      await announceTeamChange(tx, { teamIds: [team.id], agentIds: [user.id] });
    }
    return { teamId: team.id, userId: user.id, role };
  });
}

export async function removeMember(db: Db, by: AuditBy, input: { teamId: string; userId: string }): Promise<{ ok: true }> {
  return db.transaction(async (tx) => {
    const team = await findTeam(tx, { id: input.teamId });
    if (!team) throw new AdminNotFoundError('teamId: no such team');
    const role = await deleteMember(tx, input);
    if (!role) throw new AdminNotFoundError(`userId: not a member of the team ${team.name}`);
    const user = await findUserById(tx, { id: input.userId });
    await recordAudit(tx, {
      ...by,
      action: 'member.remove',
      targetType: 'member',
      targetId: `${team.id}/${input.userId}`,
      details: { team: team.name, email: user?.email ?? null, role },
    });
    await announceTeamChange(tx, { teamIds: [team.id], agentIds: [input.userId] });
    return { ok: true as const };
  });
}
