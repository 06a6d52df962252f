// queues.*: queue statistics for integrations (API key) and supervisors
// (their teams' queues), live for the roster's queue panel; and the public
// availability answer for an "agents online" widget: counts only.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { Db } from '../../../db/client';
import type { SessionUser } from '../../../db/queries/people';
import { availability, queueIdsOfTeams, queueStats } from '../../../db/queries/tickets';
import { watchQueueStats } from '../../routing/feeds';
import { supervisedScope } from '../../roster/visibility';
import { keyOrSupervisorProcedure, publicProcedure, router, supervisorProcedure } from '../init';

export const queuesRouter = router({
  /** Depth, oldest wait, routable agents and estimates per queue. */
  stats: keyOrSupervisorProcedure('tickets:read').query(async ({ ctx }) => {
    const { user } = ctx.caller;
    if (!user) return queueStats(ctx.services.db);
    return queueStats(ctx.services.db, { queueIds: await supervisedQueueIds(ctx.services.db, user) });
  }),

  watch: supervisorProcedure.subscription(async function* ({ ctx, signal }) {
    yield* watchQueueStats(ctx.services, {
      queueIds: await supervisedQueueIds(ctx.services.db, ctx.user),
      everyMs: 500,
      signal: signal ?? new AbortController().signal,
    });
  }),
});

/** The queues of the teams a supervisor supervises; undefined (every queue) for admins. */
async function supervisedQueueIds(db: Db, user: SessionUser): Promise<string[] | undefined> {
  const teams = await supervisedScope(db, { user });
  if (!teams) return undefined;
  return queueIdsOfTeams(db, { teamIds: teams });
}

export const availabilityRouter = router({
  /** Public: how many agents of the queue's team are online and available. No names, no ids. */
  get: publicProcedure.input(z.object({ queue: z.string().trim().min(1).max(200) })).query(async ({ ctx, input }) => {
    const answer = await availability(ctx.services.db, input);
    if (!answer) throw new TRPCError({ code: 'NOT_FOUND', message: 'queue: no such queue' });
    return answer;
  }),
});
