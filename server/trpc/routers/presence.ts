// presence.*: a device's session (a subscription that lives as long as the
// tab's WebSocket), the agent's chosen status, and the agent's own live view.
import { tracked } from '@trpc/server';
import { z } from 'zod';
import { STATUSES } from '../../presence/aggregate';
import { watchSelf } from '../../roster/service';
import { agentProcedure, router } from '../init';

const clientId = z.string().trim().min(8).max(100).regex(/^[\w-]+$/, 'letters, digits, - and _ only');

export const presenceRouter = router({
  session: agentProcedure
    .input(z.object({ deviceId: clientId, sessionId: clientId }))
    .subscription(async function* ({ ctx, input, signal }) {
      const { engine, env } = ctx.services;
      const handle = await engine.connect({
        agentId: ctx.user.id,
        deviceId: input.deviceId,
        clientSessionId: input.sessionId,
        userAgent: ctx.userAgent,
      });
      try {
        yield {
          type: 'attached' as const,
          sessionId: handle.sessionId,
          heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
          idleAfterMs: env.IDLE_AFTER_MS,
        };
        if (signal && !signal.aborted) {
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        }
      } finally {
        engine.disconnect(handle);
      }
    }),

  setStatus: agentProcedure
    .input(z.object({ status: z.enum(STATUSES) }))
    .mutation(({ ctx, input }) => ctx.services.engine.setStatus({ agentId: ctx.user.id, status: input.status })),

  watchSelf: agentProcedure.subscription(async function* ({ ctx, signal }) {
    const views = watchSelf(ctx.services, { agentId: ctx.user.id, signal: signal ?? new AbortController().signal });
    for await (const view of views) yield tracked(String(view.eventId), view);
  }),
});
