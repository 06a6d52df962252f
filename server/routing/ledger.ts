// The ticket event log: every change of a ticket appends one ticket_events row
// in the same transaction, and the transaction rings the ticket doorbell once.
// Event ids are drawn under a transaction lock so they commit in id order (as
// presence events do). Lock order, everywhere: agent row, then ticket rows,
// then the presence event-order lock, then this one.
import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import type { ticketEvents } from '../../db/schema';
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

/**
 * Appends events (in the given order) and rings the doorbell once, in one
 * statement: the order lock is held from here to the commit, one round trip
 * later, so claims on other tickets wait for it as briefly as possible.
 */
export async function appendTicketEvents(tx: Tx, events: readonly TicketEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e, i) => ({
    n: i,
    ticket_id: e.ticketId,
    integration_id: e.integrationId,
    type: e.type,
    state: e.state,
    version: e.version,
    agent_id: e.agentId ?? null,
    reason: e.reason ?? null,
    explanation: e.explanation ?? null,
  }));
  await tx.execute(sql`
    with ordered as materialized (select pg_advisory_xact_lock(${TICKET_ORDER_LOCK})),
    appended as (
      insert into ticket_events (ticket_id, integration_id, type, state, version, agent_id, reason, explanation)
      select e.ticket_id, e.integration_id, e.type, e.state, e.version, e.agent_id, e.reason, e.explanation
        from ordered, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as e(
               n int, ticket_id uuid, integration_id uuid, type ticket_event_type, state ticket_state,
               version int, agent_id uuid, reason text, explanation jsonb)
       order by e.n
      returning id)
    select pg_notify(${ticketChannel.name}, json_build_object('e', max(id), 'n', count(*))::text) from appended`);
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
