// work.*: an agent's offers and tickets — live list, accept, decline, complete, release.
import { z } from 'zod';
import { watchWork } from '../../routing/feeds';
import { agentProcedure, router } from '../init';

const act = (action: 'accept' | 'decline' | 'complete' | 'release') =>
  agentProcedure
    .input(z.object({ ticketId: z.string().uuid(), reason: z.string().trim().min(1).max(500).optional() }))
    .mutation(({ ctx, input }) =>
      ctx.services.router.act({ agentId: ctx.user.id, ticketId: input.ticketId, action, reason: input.reason }),
    );

export const workRouter = router({
  watch: agentProcedure.subscription(({ ctx, signal }) =>
    watchWork(ctx.services, { agentId: ctx.user.id, signal: signal ?? new AbortController().signal }),
  ),
  accept: act('accept'),
  decline: act('decline'),
  complete: act('complete'),
  release: act('release'),
});
