// admin.*: people, teams, memberships, skills, capacity overrides and the
// audit log, for admins. Every change is recorded in the audit log with the
// admin and the request's address (server/admin/*, server/audit/log.ts).
import { setAgentCapacity, setAgentSkills } from '../../admin/agents';
import {
  createTeamInput,
  createUserInput,
  deleteTeamInput,
  listAuditInput,
  removeMemberInput,
  renameTeamInput,
  resetPasswordInput,
  setCapacityInput,
  setMemberInput,
  setSkillsInput,
  updateUserInput,
} from '../../admin/inputs';
import { createTeam, deleteTeam, listTeams, removeMember, renameTeam, setMember } from '../../admin/teams';
import { createUser, listUsers, resetPassword, updateUser } from '../../admin/users';
import { byUser, listAudit } from '../../audit/log';
import { adminProcedure as admin, router } from '../init';

export const adminRouter = router({
  users: router({
    list: admin.query(({ ctx }) => listUsers(ctx.services.db)),
    create: admin.input(createUserInput).mutation(({ ctx, input }) => createUser(ctx.services, byUser(ctx.user, ctx.address), input)),
    update: admin.input(updateUserInput).mutation(({ ctx, input }) => updateUser(ctx.services, byUser(ctx.user, ctx.address), input)),
    resetPassword: admin
      .input(resetPasswordInput)
      .mutation(({ ctx, input }) => resetPassword(ctx.services, byUser(ctx.user, ctx.address), input)),
  }),

  teams: router({
    list: admin.query(({ ctx }) => listTeams(ctx.services.db)),
    create: admin.input(createTeamInput).mutation(({ ctx, input }) => createTeam(ctx.services.db, byUser(ctx.user, ctx.address), input)),
    rename: admin.input(renameTeamInput).mutation(({ ctx, input }) => renameTeam(ctx.services.db, byUser(ctx.user, ctx.address), input)),
    delete: admin.input(deleteTeamInput).mutation(({ ctx, input }) => deleteTeam(ctx.services.db, byUser(ctx.user, ctx.address), input)),
  }),

  members: router({
    set: admin.input(setMemberInput).mutation(({ ctx, input }) => setMember(ctx.services.db, byUser(ctx.user, ctx.address), input)),
    remove: admin.input(removeMemberInput).mutation(({ ctx, input }) => removeMember(ctx.services.db, byUser(ctx.user, ctx.address), input)),
  }),

  skills: router({
    set: admin.input(setSkillsInput).mutation(({ ctx, input }) => setAgentSkills(ctx.services.db, byUser(ctx.user, ctx.address), input)),
  }),

  capacity: router({
    set: admin.input(setCapacityInput).mutation(({ ctx, input }) => setAgentCapacity(ctx.services.db, byUser(ctx.user, ctx.address), input)),
  }),

  audit: router({
    list: admin.input(listAuditInput).query(({ ctx, input }) => listAudit(ctx.services.db, input)),
  }),
});
