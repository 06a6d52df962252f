// The ticket event log: every change of a ticket appends one ticket_events row
// in the same transaction, and the transaction rings the ticket doorbell once
// (realtime/record.ts writes it). Lock order, everywhere: agent row, then
// ticket rows, then the presence event-order lock, then the ticket one.
import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import type { ticketEvents } from '../../db/schema';
import { recordEvents } from '../realtime/record';

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

/** Appends events (in the given order) in one statement, ringing the ticket doorbell once (see realtime/record.ts). */
export async function appendTicketEvents(tx: Tx, events: readonly TicketEventInput[]): Promise<void> {
  await recordEvents(tx, { tickets: events });
}

/**
 * Sends every ticket offered to the agent back to its queue, keeping its place
 * (queue order is by creation), and returns the events to record. Runs while
 * the agent's row is locked; the caller records the events with its own.
 */
export async function takeBackOffers(tx: Tx, params: { agentId: string; reason: string }): Promise<TicketEventInput[]> {
  const returned = await tx.execute<{ id: string; integrationId: string; version: number }>(sql`
    update tickets set state = 'queued', agent_id = null, offer_id = null, offer_expires_at = null,
                       wait_reason = ${params.reason}, version = version + 1
     where agent_id = ${params.agentId} and state = 'offered'
    returning id, integration_id as "integrationId", version`);
  return returned.map((t) => ({
    ticketId: t.id,
    integrationId: t.integrationId,
    type: 'requeued' as const,
    state: 'queued' as const,
    version: t.version,
    agentId: params.agentId,
    reason: params.reason,
  }));
}
