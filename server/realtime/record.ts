// Writes the two event logs — presence and tickets — for one transaction in a
// single statement: the agent's presence row and its event, then the ticket
// events in order, and one doorbell per log. Event ids are given at COMMIT, in
// commit order, by a deferred trigger under a transaction lock (migration 0005,
// decision 013), so nothing here holds a lock across a round trip. Presence
// events are inserted first so the commit takes the locks presence first.
import { sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import type { ManualReason, Reason, Status } from '../presence/aggregate';
import { presenceChannel, ticketChannel } from './channels';

/** The new presence row of one agent (already computed), and what it was. */
export type PresenceWrite = {
  agentId: string;
  manualStatus: Status;
  manualReason: ManualReason;
  manualActorId: string | null;
  manualNote: string | null;
  status: Status;
  reason: Reason;
  previousStatus: Status;
  devices: number;
  statusChanged: boolean;
  touchSeen: boolean;
};

export type RecordWrite = { presence?: PresenceWrite; notifyPresence?: boolean; tickets?: readonly TicketEventWrite[] };

export type TicketEventWrite = {
  ticketId: string;
  integrationId: string;
  type: string;
  state: string;
  version: number;
  agentId?: string | null;
  reason?: string | null;
  explanation?: unknown;
};

type Recorded = { recorded: boolean; version?: number };
export type RecordRow = { presenceEventId: string | null; version: number | null };

/**
 * Updates the agent's presence row and appends its event (ringing the
 * presence doorbell when `notifyPresence`), and appends the ticket events in
 * order (ringing the ticket doorbell once): one statement.
 */
export async function recordEvents(tx: Tx, write: RecordWrite): Promise<Recorded> {
  const statement = recordStatement(write);
  return statement ? recordedFrom(await tx.execute<RecordRow>(statement)) : { recorded: false };
}

/** What `recordEvents` runs, for a caller that sends it itself (with its COMMIT: db/pipelined.ts); undefined when there is nothing to record. */
export function recordStatement(write: RecordWrite): SQL | undefined {
  const p = write.presence;
  const tickets = write.tickets ?? [];
  if (!p && tickets.length === 0) return undefined;
  const parts: SQL[] = [];
  if (p) {
    // The row and its event: sb_record_presence (migration 0007), shared with sb_set_manual.
    const bell = write.notifyPresence ? presenceChannel.name : null;
    const payload = write.notifyPresence ? presenceChannel.encode({ n: 1 }) : null;
    parts.push(sql`p_event as (
      select event_id as id, new_version as version from sb_record_presence(
        ${p.agentId}::uuid, ${p.manualStatus}::agent_status, ${p.manualReason}::manual_reason,
        ${p.manualActorId}::uuid, ${p.manualNote}::text, ${p.status}::agent_status, ${p.reason}::status_reason,
        ${p.previousStatus}::agent_status, ${p.devices}::int, ${p.statusChanged}::boolean, ${p.touchSeen}::boolean,
        ${bell}::text, ${payload}::text))`);
  }
  if (tickets.length) {
    const rows = tickets.map((e, n) => ({
      n,
      ticket_id: e.ticketId,
      integration_id: e.integrationId,
      type: e.type,
      state: e.state,
      version: e.version,
      agent_id: e.agentId ?? null,
      reason: e.reason ?? null,
      explanation: e.explanation ?? null,
    }));
    // After the presence event (reading p_event makes it run first), so the commit's triggers take the locks in order.
    if (p) parts.push(sql`after_presence as materialized (select count(*) from p_event)`);
    parts.push(sql`t_events as (
      insert into ticket_events (ticket_id, integration_id, type, state, version, agent_id, reason, explanation)
      select e.ticket_id, e.integration_id, e.type, e.state, e.version, e.agent_id, e.reason, e.explanation
        from ${p ? sql`after_presence, ` : sql``}jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as e(
               n int, ticket_id uuid, integration_id uuid, type ticket_event_type, state ticket_state,
               version int, agent_id uuid, reason text, explanation jsonb)
       order by e.n
      returning id)`);
  }
  const presenceColumns = p
    ? sql`(select id from p_event) as "presenceEventId", (select version from p_event) as version`
    : sql`null as "presenceEventId", null as version`;
  const ticketColumns = tickets.length
    ? sql`(select pg_notify(${ticketChannel.name}, json_build_object('n', count(*))::text) from t_events) as t_rang`
    : sql`null as t_rang`;
  return sql`with ${sql.join(parts, sql`, `)} select ${presenceColumns}, ${ticketColumns}`;
}

export function recordedFrom(rows: readonly RecordRow[]): Recorded {
  const [row] = rows;
  return { recorded: row?.presenceEventId != null, version: row?.version ?? undefined };
}
