// tickets.*: the integration API for ticketing systems (API keys), plus the
// supervisor's view of one ticket (session).
import { TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import { CHANNELS } from '../../../db/schema';
import { listTickets, ticketDetail, withoutOwners } from '../../../db/queries/tickets';
import { watchTicketEvents } from '../../routing/feeds';
import { supervisedScope } from '../../roster/visibility';
import { keyOrSupervisorProcedure, keyProcedure, router } from '../init';

const text = (max: number) => z.string().trim().min(1).max(max);
const eventId = z.string().regex(/^\d{1,15}$/, 'an event id (digits)');

export const newTicketInput = z.object({
  externalId: text(200),
  /** The queue's name or id. */
  queue: text(200),
  channel: z.enum(CHANNELS),
  priority: z.number().int().min(1).max(5).default(3),
  skills: z.array(text(50)).max(20).default([]),
  subject: text(500),
  url: z.string().url().max(2000).optional(),
  metadata: z
    .record(z.string().max(100), z.unknown())
    .refine((m) => JSON.stringify(m).length <= 8_000, 'at most 8000 characters of JSON')
    .default({}),
});

const ticketRef = z.union([
  z.object({ id: z.string().uuid() }),
  z.object({ externalId: text(200) }),
]);

export const ticketsRouter = router({
  create: keyProcedure('tickets:write')
    .input(newTicketInput)
    .mutation(({ ctx, input }) => ctx.services.router.create(ctx.apiKey.integrationId, input)),

  /** One ticket with its history and routing explanations: by its integration's key, or by a supervisor of its queue's team. */
  get: keyOrSupervisorProcedure('tickets:read').input(ticketRef).query(async ({ ctx, input }) => {
    const { db } = ctx.services;
    const { caller } = ctx;
    if (caller.key) {
      const { integrationId } = caller.key;
      const ticket = await ticketDetail(db, 'id' in input ? { id: input.id } : { integrationId, externalId: input.externalId });
      if (!ticket || ticket.integrationId !== integrationId) throw new TRPCError({ code: 'NOT_FOUND', message: 'id: no such ticket' });
      return withoutOwners(ticket);
    }
    if (!('id' in input)) throw new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid input: id: required when signed in (externalId is per integration)' });
    const ticket = await ticketDetail(db, { id: input.id });
    const teams = await supervisedScope(db, { user: caller.user });
    if (!ticket || (teams && !teams.includes(ticket.teamId))) throw new TRPCError({ code: 'NOT_FOUND', message: 'id: no such ticket' });
    return withoutOwners(ticket);
  }),

  list: keyProcedure('tickets:read')
    .input(
      z
        .object({
          state: z.enum(['queued', 'offered', 'assigned', 'completed', 'cancelled']).optional(),
          queueId: z.string().uuid().optional(),
          limit: z.number().int().min(1).max(200).default(50),
          /** The last ticket id of the previous page. */
          before: z.string().uuid().optional(),
        })
        .default({ limit: 50 }),
    )
    .query(({ ctx, input }) => listTickets(ctx.services.db, { integrationId: ctx.apiKey.integrationId, ...input })),

  cancel: keyProcedure('tickets:write')
    .input(z.object({ id: z.string().uuid(), reason: text(500).optional() }))
    .mutation(async ({ ctx, input }) => ({
      state: await ctx.services.router.cancel({ integrationId: ctx.apiKey.integrationId, ticketId: input.id, reason: input.reason }),
    })),

  events: keyProcedure('tickets:read')
    .input(z.object({ lastEventId: eventId.nullish() }).optional())
    .subscription(async function* ({ ctx, input, signal }) {
      const events = watchTicketEvents(ctx.services, {
        integrationId: ctx.apiKey.integrationId,
        lastEventId: input?.lastEventId ? Number(input.lastEventId) : undefined,
        signal: signal ?? new AbortController().signal,
      });
      for await (const event of events) {
        yield tracked(String(event.type === 'ticket' ? event.event.eventId : event.eventId), event);
      }
    }),
});
