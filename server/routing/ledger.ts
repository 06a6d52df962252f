// The ticket event log: every change of a ticket appends one ticket_events row
// in the same transaction, and the transaction rings the ticket doorbell once.
// Event ids are drawn under a transaction lock so they commit in id order (as
// presence events do). Lock order, everywhere: agent row, then ticket rows,
// then this lock, then the presence event-order lock.
import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { ticketEvents } from '../../db/schema';
import { ticketChannel } from '../realtime/channels';

const TICKET_ORDER_LOCK = 7_204_116; // arbitrary, unique to this purpose

export type TicketEventType = (typeof ticketEvents.$inferInsert)['type'];
export type TicketState = (typeof ticketEvents.$inferInsert)['state'];

export type TicketEventInput = {
  ticketId: string;
  integrationId: string;
  type: TicketEventType;
  state: TicketState;
  version: number;
  agentId?: string | null;
  reason?: string | null;
  explanation?: unknown;
};

/** Appends events (in the given order) and rings the doorbell once; returns their ids. */
export async function appendTicketEvents(tx: Tx, events: readonly TicketEventInput[]): Promise<number[]> {
  if (events.length === 0) return [];
  await tx.execute(sql`select pg_advisory_xact_lock(${TICKET_ORDER_LOCK})`);
  const rows = await tx
    .insert(ticketEvents)
    .values(events.map((e) => ({ ...e, agentId: e.agentId ?? null, reason: e.reason ?? null, explanation: e.explanation ?? null })))
    .returning({ id: ticketEvents.id });
  const ids = rows.map((r) => r.id).sort((a, b) => a - b);
  await tx.execute(ticketChannel.notify({ e: ids.at(-1)!, n: ids.length }));
  return ids;
}

/**
 * Sends every ticket offered to the agent back to its queue, keeping its place
 * (queue order is by creation). Runs while the agent's row is locked.
 */
export async function returnOffers(tx: Tx, params: { agentId: string; reason: string }): Promise<string[]> {
  const returned = await tx.execute<{ id: string; integrationId: string; queueId: string; version: number }>(sql`
    update tickets set state = 'queued', agent_id = null, offer_id = null, offer_expires_at = null,
                       wait_reason = ${params.reason}, version = version + 1
     where agent_id = ${params.agentId} and state = 'offered'
    returning id, integration_id as "integrationId", queue_id as "queueId", version`);
  await appendTicketEvents(
    tx,
    returned.map((t) => ({
      ticketId: t.id,
      integrationId: t.integrationId,
      type: 'requeued' as const,
      state: 'queued' as const,
      version: t.version,
      agentId: params.agentId,
      reason: params.reason,
    })),
  );
  return [...new Set(returned.map((t) => t.queueId))];
}
