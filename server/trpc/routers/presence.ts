// presence.*: a device's session (a subscription that lives as long as the
// tab), its heartbeats, the agent's chosen status and privacy choice, the
// agent's own live view (which reads the choice back), signing devices out, and
// a supervisor forcing an agent away or offline.
import { TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import { STATUSES } from '../../presence/aggregate';
import { deviceSession } from '../../presence/session';
import { forceStatus, signOutDevice } from '../../presence/actions';
import { setPrivacy } from '../../roster/privacy';
import { watchSelf } from '../../roster/service';
import { agentProcedure, router, supervisorProcedure } from '../init';

const clientId = z.string().trim().min(8).max(100).regex(/^[\w-]+$/, 'letters, digits, - and _ only');
const never = new AbortController().signal;

export const presenceRouter = router({
  session: agentProcedure
    .input(z.object({ deviceId: clientId, sessionId: clientId }))
    .subscription(({ ctx, input, signal }) =>
      deviceSession(ctx.services, {
        user: ctx.user,
        deviceId: input.deviceId,
        clientSessionId: input.sessionId,
        userAgent: ctx.userAgent,
        authSessionId: ctx.authSessionId,
        socket: ctx.socket,
        signal: signal ?? never,
      }),
    ),

  heartbeat: agentProcedure
    .input(z.object({ sessionId: z.string().uuid(), activity: z.enum(['active', 'idle']).optional() }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.transport !== 'ws') {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'presence.heartbeat is sent over the WebSocket of its session' });
      }
      await ctx.services.engine.heartbeat({ agentId: ctx.user.id, ...input });
      return null;
    }),

  setStatus: agentProcedure
    .input(z.object({ status: z.enum(STATUSES) }))
    .mutation(({ ctx, input }) => ctx.services.engine.setStatus({ agentId: ctx.user.id, status: input.status })),

  /** Hide (or show again) the exact last-seen time from teammates; watchSelf's row carries the choice (`hideLastSeen`). */
  setPrivacy: agentProcedure
    .input(z.object({ hideLastSeen: z.boolean() }))
    .mutation(({ ctx, input }) => setPrivacy(ctx.services, { agentId: ctx.user.id, hideLastSeen: input.hideLastSeen })),

  watchSelf: agentProcedure.subscription(async function* ({ ctx, signal }) {
    for await (const view of watchSelf(ctx.services, { agentId: ctx.user.id, signal: signal ?? never })) {
      yield tracked(String(view.eventId), view);
    }
  }),

  signOutDevice: agentProcedure
    .input(z.object({ sessionId: z.string().uuid() }))
    .mutation(({ ctx, input }) => signOutDevice(ctx.services, { user: ctx.user, sessionId: input.sessionId })),

  force: supervisorProcedure
    .input(
      z.object({
        agentId: z.string().uuid(),
        status: z.enum(['away', 'offline']),
        note: z.string().trim().max(500).optional(),
      }),
    )
    .mutation(({ ctx, input }) => forceStatus(ctx.services, { user: ctx.user, address: ctx.address, ...input })),
});
