// The admin inputs, checked once for both callers: the admin router (tRPC
// reports a failure with the field's name) and the command line (which prints
// the same). Every string and list has a maximum.
import { z } from 'zod';
import { AUDIT_ACTIONS } from '../audit/log';
import { MIN_PASSWORD_LENGTH } from '../auth/service';

export const ROLES = ['agent', 'supervisor', 'admin'] as const;
export const MEMBER_ROLES = ['agent', 'supervisor'] as const;
/** The most open tickets of one channel an agent may be set to hold: a guard against typos, not a policy. */
export const MAX_CAPACITY = 100;

const id = z.string().uuid();
const email = z.string().trim().toLowerCase().email().max(320);
const name = z.string().trim().min(1).max(100);
const password = z.string().min(MIN_PASSWORD_LENGTH).max(1024);
const skill = z.string().trim().min(1).max(50);
const perChannel = z.number().int().min(0).max(MAX_CAPACITY);

export const createUserInput = z.object({
  email,
  name,
  role: z.enum(ROLES),
  password,
  teamIds: z.array(id).max(100).optional(),
});

export const updateUserInput = z.object({
  id,
  name: name.optional(),
  role: z.enum(ROLES).optional(),
  /** true deactivates (every sign-in ends); false lets the user sign in again. */
  deactivated: z.boolean().optional(),
});

export const resetPasswordInput = z.object({ id, password });

export const createTeamInput = z.object({ name });
export const renameTeamInput = z.object({ id, name });
export const deleteTeamInput = z.object({ id });

export const setMemberInput = z.object({
  teamId: id,
  userId: id,
  /** Defaults to what the user's role makes them: agents are a team's agents, the others supervise. */
  role: z.enum(MEMBER_ROLES).optional(),
});
export const removeMemberInput = z.object({ teamId: id, userId: id });

export const setSkillsInput = z.object({ agentId: id, skills: z.array(skill).max(50) });

export const setCapacityInput = z.object({
  agentId: id,
  /** Overrides per channel; a channel left out uses each queue's default. */
  capacity: z.strictObject({ chat: perChannel.optional(), email: perChannel.optional(), phone: perChannel.optional(), task: perChannel.optional() }),
});

export const listAuditInput = z.object({
  limit: z.number().int().min(1).max(200).default(50),
  /** The `nextBefore` of the previous page. */
  before: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
});

export type CreateUserInput = z.infer<typeof createUserInput>;
export type UpdateUserInput = z.infer<typeof updateUserInput>;
export type SetCapacityInput = z.infer<typeof setCapacityInput>;
