// team.*: an agent's view of their own teams — each teammate's status and
// since when, live. Less than a supervisor's roster by design (see
// server/roster/visibility.ts).
import { listTeam, watchTeam } from '../../roster/service';
import { agentProcedure, router } from '../init';
import { rosterInput, trackedEvent, watchInput, watchParams } from './roster';

export const teamRouter = router({
  list: agentProcedure
    .input(rosterInput)
    .query(({ ctx, input }) => listTeam(ctx.services, { user: ctx.user, teamId: input?.teamId })),

  watch: agentProcedure
    .input(watchInput)
    .subscription(({ ctx, input, signal }) => watchTeam(ctx.services, watchParams(ctx, 'team.watch', input, signal), trackedEvent)),
});
