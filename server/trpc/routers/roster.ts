// roster.*: the supervisor's live roster (snapshot, then one event per change)
// and the same snapshot as a plain query, for supervisors and for integrations
// (an API key with `presence:read` sees less: server/roster/visibility.ts).
import { tracked } from '@trpc/server';
import { z } from 'zod';
import { supervisedDevices } from '../../presence/actions';
import type { SessionUser } from '../../../db/queries/people';
import { listRoster, watchRoster, type WatchParams } from '../../roster/service';
import type { Services } from '../../services';
import type { Context } from '../context';
import { keyOrSupervisorProcedure, router, supervisorProcedure } from '../init';

export const rosterInput = z.object({ teamId: z.string().uuid().optional() }).optional();

/** Input of a live view: a team to narrow to, and the resume point the tRPC client sends on reconnect. */
export const watchInput = z
  .object({
    teamId: z.string().uuid().optional(),
    // Sent by the tRPC client itself on reconnect: the id of the last event it received.
    lastEventId: z.string().regex(/^\d{1,15}$/, 'an event id (digits)').nullish(),
  })
  .optional();

/** The live views that write their own frames (server/realtime/frames.ts): node.ts reads their requests. */
export const LIVE_VIEW_PATHS = ['roster.watch', 'team.watch'] as const;

/** What a live view (roster.watch, team.watch) is asked for: its input and the caller's context. */
export function watchParams(
  ctx: { user: SessionUser; socket: Context['socket']; services: Pick<Services, 'subscriptions'> },
  path: (typeof LIVE_VIEW_PATHS)[number],
  input: z.infer<typeof watchInput>,
  signal: AbortSignal | undefined,
): WatchParams {
  return {
    user: ctx.user,
    teamId: input?.teamId,
    lastEventId: input?.lastEventId ? Number(input.lastEventId) : undefined,
    socket: ctx.socket,
    // Over a WebSocket, the view writes its messages itself (server/realtime/frames.ts).
    target: ctx.services.subscriptions.take(ctx.socket, { path, teamId: input?.teamId, lastEventId: input?.lastEventId }),
    signal: signal ?? new AbortController().signal,
  };
}

/** A live view's event, tracked by its event id (what a reconnecting client resumes from). */
export const trackedEvent = <Event extends { eventId: number }>(event: Event) => tracked(String(event.eventId), event);

export const rosterRouter = router({
  list: keyOrSupervisorProcedure('presence:read')
    .input(rosterInput)
    .query(({ ctx, input }) =>
      listRoster(ctx.services, { ...(ctx.caller.key ? { integration: ctx.caller.key } : { user: ctx.caller.user }), teamId: input?.teamId }),
    ),

  /** The live devices of one agent the caller supervises (the roster's device list). */
  devices: supervisorProcedure
    .input(z.object({ agentId: z.string().uuid() }))
    .query(({ ctx, input }) => supervisedDevices(ctx.services, { user: ctx.user, agentId: input.agentId })),

  watch: supervisorProcedure
    .input(watchInput)
    .subscription(({ ctx, input, signal }) => watchRoster(ctx.services, watchParams(ctx, 'roster.watch', input, signal), trackedEvent)),
});
