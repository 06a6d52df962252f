// Admin work on people: list, create, change (name, role, deactivation) and
// reset a password. Each change and its audit row commit together.
// Invariants: at least one active admin remains (the active admins are locked
// first, so two admins demoting each other at once cannot both succeed); a
// role change, a deactivation or a password reset ends every sign-in of the
// user and closes every socket opened with one, after the change commits (a
// sign-in in between is ended too); memberships follow the role.
import type { Db } from '../../db/client';
import {
  existingTeamIds,
  followRole,
  listAdminUsers,
  lockActiveAdmins,
  lockUser,
  updateUserRow,
  type AdminUser,
} from '../../db/queries/admin';
import { findUserById, insertUser, setPasswordHash, type SessionUser } from '../../db/queries/people';
import { recordAudit, type AuditBy } from '../audit/log';
import { hashPassword } from '../auth/password';
import { signOut } from '../auth/service';
import { announceTeamChange } from '../routing/team-changes';
import { AdminConflictError, AdminNotFoundError, isUniqueViolation } from './errors';
import type { CreateUserInput, UpdateUserInput } from './inputs';

/** What the admin services need: the database, and an engine to sign agents' devices out. */
export type AdminDeps = { db: Db };

export function listUsers(db: Db): Promise<AdminUser[]> {
  return listAdminUsers(db);
}

async function userView(db: Db, id: string): Promise<AdminUser> {
  const [user] = await listAdminUsers(db, { id });
  if (!user) throw new AdminNotFoundError('id: no such user');
  return user;
}

export async function createUser(deps: AdminDeps, by: AuditBy, input: CreateUserInput): Promise<AdminUser> {
  const passwordHash = await hashPassword(input.password);
  const teamIds = [...new Set(input.teamIds ?? [])];
  const id = await deps.db
    .transaction(async (tx) => {
      const found = await existingTeamIds(tx, { ids: teamIds });
      const missing = teamIds.find((t) => !found.has(t));
      if (missing) throw new AdminNotFoundError(`teamIds: no such team ${missing}`);
      const { id } = await insertUser(tx, { email: input.email, name: input.name, role: input.role, passwordHash, teamIds });
      await recordAudit(tx, {
        ...by,
        action: 'user.create',
        targetType: 'user',
        targetId: id,
        details: { email: input.email.toLowerCase(), name: input.name, role: input.role, teamIds },
      });
      if (input.role === 'agent' && teamIds.length) await announceTeamChange(tx, { teamIds, agentIds: [id] });
      return id;
    })
    .catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new AdminConflictError(`email: a user with the email ${input.email} exists already`);
      throw error;
    });
  return userView(deps.db, id);
}

/** Changes a user's name, role or deactivation; ends their sign-ins if the role changed or they were deactivated. */
export async function updateUser(deps: AdminDeps, by: AuditBy, input: UpdateUserInput): Promise<AdminUser> {
  const ended = await deps.db.transaction(async (tx) => {
    // Admins first, then the user (who may be one): every such change locks in this order.
    const admins = input.role !== undefined || input.deactivated !== undefined ? await lockActiveAdmins(tx) : [];
    const user = await lockUser(tx, { id: input.id });
    if (!user) throw new AdminNotFoundError('id: no such user');
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (input.name !== undefined && input.name !== user.name) changes.name = { from: user.name, to: input.name };
    if (input.role !== undefined && input.role !== user.role) changes.role = { from: user.role, to: input.role };
    const wasDeactivated = user.deactivatedAt !== null;
    if (input.deactivated !== undefined && input.deactivated !== wasDeactivated) {
      changes.deactivated = { from: wasDeactivated, to: input.deactivated };
    }
    if (!Object.keys(changes).length) return undefined;

    const staysActiveAdmin = (input.role ?? user.role) === 'admin' && !(input.deactivated ?? wasDeactivated);
    if (admins.includes(user.id) && !staysActiveAdmin && admins.length === 1) {
      const field = changes.role ? 'role' : 'deactivated';
      throw new AdminConflictError(`${field}: ${user.email} is the last active admin; make another user an admin first`);
    }
    await updateUserRow(tx, { id: user.id, name: input.name, role: input.role, deactivated: input.deactivated });
    const movedTeams = changes.role ? await followRole(tx, { userId: user.id, role: input.role! }) : [];
    await recordAudit(tx, { ...by, action: 'user.update', targetType: 'user', targetId: user.id, details: { email: user.email, changes } });
    // Joining or leaving the agents of a team, for routing.
    if (movedTeams.length) await announceTeamChange(tx, { teamIds: movedTeams, agentIds: [user.id] });
    const endsSignIns = changes.role !== undefined || input.deactivated === true;
    // Signed out as what they were: an agent's devices end with their sign-ins.
    return endsSignIns ? ({ id: user.id, email: user.email, name: user.name, role: user.role } satisfies SessionUser) : undefined;
  });
  if (ended) await signOut(deps, { user: ended, authSessionId: '', everywhere: true });
  return userView(deps.db, input.id);
}

/** Sets a new password; every sign-in of the user ends. */
export async function resetPassword(deps: AdminDeps, by: AuditBy, input: { id: string; password: string }): Promise<{ ok: true }> {
  // Checked before hashing too: a wrong id costs no hash (tens of milliseconds of CPU).
  if (!(await findUserById(deps.db, { id: input.id }))) throw new AdminNotFoundError('id: no such user');
  const passwordHash = await hashPassword(input.password);
  const user = await deps.db.transaction(async (tx) => {
    const user = await lockUser(tx, { id: input.id });
    if (!user) throw new AdminNotFoundError('id: no such user');
    await setPasswordHash(tx, { userId: user.id, passwordHash });
    await recordAudit(tx, { ...by, action: 'user.password_reset', targetType: 'user', targetId: user.id, details: { email: user.email } });
    return { id: user.id, email: user.email, name: user.name, role: user.role } satisfies SessionUser;
  });
  await signOut(deps, { user, authSessionId: '', everywhere: true });
  return { ok: true };
}
