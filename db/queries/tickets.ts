// Reads for routing: a ticket with its history and explanations, lists, the
// ticket event feed after an id, an agent's open work, and queue statistics.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { executePrepared, opaque } from '../pipelined';
import type { Channel } from '../schema';

export type TicketState = 'queued' | 'offered' | 'assigned' | 'completed' | 'cancelled';

export type TicketSummary = {
  id: string;
  externalId: string;
  queueId: string;
  queue: string;
  channel: Channel;
  priority: number;
  skills: string[];
  subject: string;
  url: string | null;
  metadata: Record<string, unknown>;
  state: TicketState;
  agent: { id: string; name: string } | null;
  offerExpiresAt: string | null;
  waitReason: string | null;
  createdAt: string;
  acceptedAt: string | null;
  endedAt: string | null;
  version: number;
};

type RawSummary = Omit<TicketSummary, 'agent' | 'offerExpiresAt' | 'createdAt' | 'acceptedAt' | 'endedAt'> & {
  agentId: string | null;
  agentName: string | null;
  offerExpiresAt: Date | string | null;
  createdAt: Date | string;
  acceptedAt: Date | string | null;
  endedAt: Date | string | null;
  integrationId: string;
  teamId: string;
};

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

const summaryColumns = sql`
  k.id, k.external_id as "externalId", k.queue_id as "queueId", q.name as queue, q.team_id as "teamId",
  k.channel, k.priority, k.skills, k.subject, k.url, k.metadata, k.state, k.agent_id as "agentId",
  a.name as "agentName", k.offer_expires_at as "offerExpiresAt", k.wait_reason as "waitReason",
  k.created_at as "createdAt", k.accepted_at as "acceptedAt", k.ended_at as "endedAt", k.version,
  k.integration_id as "integrationId"`;

const summaryFrom = sql`from tickets k join queues q on q.id = k.queue_id left join users a on a.id = k.agent_id`;

function toSummary(raw: RawSummary): TicketSummary & { integrationId: string; teamId: string } {
  const { agentId, agentName, offerExpiresAt, createdAt, acceptedAt, endedAt, ...rest } = raw;
  return {
    ...rest,
    agent: agentId ? { id: agentId, name: agentName ?? '' } : null,
    offerExpiresAt: iso(offerExpiresAt),
    createdAt: iso(createdAt)!,
    acceptedAt: iso(acceptedAt),
    endedAt: iso(endedAt),
  };
}

/** A ticket as its readers see it: without the owning integration and team, which only decide who may read it. */
export function withoutOwners<T extends { integrationId: string; teamId: string }>(ticket: T): Omit<T, 'integrationId' | 'teamId'> {
  const { integrationId: _integration, teamId: _team, ...view } = ticket;
  return view;
}

export type TicketEventView = {
  id: number;
  type: string;
  state: TicketState;
  agent: { id: string; name: string } | null;
  reason: string | null;
  explanation: unknown;
  at: string;
};

/** One ticket with its event history (offers with their explanations, agents named). */
export async function ticketDetail(
  db: DbOrTx,
  params: { id?: string; integrationId?: string; externalId?: string },
): Promise<(TicketSummary & { integrationId: string; teamId: string; events: TicketEventView[] }) | undefined> {
  const where = params.id
    ? sql`k.id = ${params.id}::uuid`
    : sql`k.integration_id = ${params.integrationId ?? null}::uuid and k.external_id = ${params.externalId ?? ''}`;
  const [raw] = await db.execute<RawSummary>(sql`select ${summaryColumns} ${summaryFrom} where ${where}`);
  if (!raw) return undefined;
  const events = await db.execute<{ id: string; type: string; state: TicketState; agentId: string | null; agentName: string | null; reason: string | null; explanation: unknown; at: Date | string }>(sql`
    select e.id, e.type, e.state, e.agent_id as "agentId", a.name as "agentName", e.reason, e.explanation, e.at
      from ticket_events e left join users a on a.id = e.agent_id
     where e.ticket_id = ${raw.id} order by e.id`);
  const names = await agentNames(db, events.flatMap((e) => explainedAgents(e.explanation)));
  return {
    ...toSummary(raw),
    events: events.map((e) => ({
      id: Number(e.id),
      type: e.type,
      state: e.state,
      agent: e.agentId ? { id: e.agentId, name: e.agentName ?? '' } : null,
      reason: e.reason,
      explanation: nameExplanation(e.explanation, names),
      at: iso(e.at)!,
    })),
  };
}

type StoredExplanation = { considered?: Array<{ agentId: string }>; winner?: string | null } | null;

function explainedAgents(explanation: unknown): string[] {
  const e = explanation as StoredExplanation;
  return e?.considered?.map((c) => c.agentId) ?? [];
}

function nameExplanation(explanation: unknown, names: Map<string, string>): unknown {
  const e = explanation as StoredExplanation;
  if (!e?.considered) return explanation;
  return {
    ...e,
    considered: e.considered.map((c) => ({ ...c, name: names.get(c.agentId) ?? null })),
    winnerName: e.winner ? (names.get(e.winner) ?? null) : null,
  };
}

async function agentNames(db: DbOrTx, ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db.execute<{ id: string; name: string }>(
    sql`select id, name from users where id in (${sql.join(unique.map((id) => sql`${id}::uuid`), sql`, `)})`,
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** An integration's tickets, newest first, optionally by state and queue; keyset-paged by `before` (a ticket id). */
export async function listTickets(
  db: DbOrTx,
  params: { integrationId: string; state?: TicketState; queueId?: string; limit: number; before?: string },
): Promise<TicketSummary[]> {
  const rows = await db.execute<RawSummary>(sql`
    select ${summaryColumns} ${summaryFrom}
     where k.integration_id = ${params.integrationId}
       and ${params.state ? sql`k.state = ${params.state}` : sql`true`}
       and ${params.queueId ? sql`k.queue_id = ${params.queueId}::uuid` : sql`true`}
       and ${params.before ? sql`(k.created_at, k.id) < (select created_at, id from tickets where id = ${params.before}::uuid)` : sql`true`}
     order by k.created_at desc, k.id desc
     limit ${params.limit}`);
  return rows.map((r) => withoutOwners(toSummary(r)));
}

/** Open work of an agent: offers (with deadlines) and held tickets, oldest first. */
export async function openTicketsOf(db: DbOrTx, params: { agentId: string }): Promise<TicketSummary[]> {
  const rows = await db.execute<RawSummary>(sql`
    select ${summaryColumns} ${summaryFrom}
     where k.agent_id = ${params.agentId} and k.state in ('offered', 'assigned')
     order by k.state desc, k.created_at, k.id`);
  return rows.map((r) => withoutOwners(toSummary(r)));
}

export type TicketDelta = {
  eventId: number;
  ticketId: string;
  externalId: string;
  integrationId: string;
  queueId: string;
  type: string;
  state: TicketState;
  agentId: string | null;
  reason: string | null;
  version: number;
  at: string;
};

/** The ticket feed after `afterId`, in id order. */
export async function ticketEventsAfter(db: DbOrTx, params: { afterId: number; limit: number; integrationId?: string }): Promise<TicketDelta[]> {
  const rows = await executePrepared<Omit<TicketDelta, 'eventId' | 'at'> & { eventId: string; at: Date | string }>(db, sql`
    select e.id as "eventId", e.ticket_id as "ticketId", k.external_id as "externalId", e.integration_id as "integrationId",
           k.queue_id as "queueId", e.type, e.state, e.agent_id as "agentId", e.reason, e.version, e.at
      from ticket_events e join tickets k on k.id = e.ticket_id
     where e.id > ${opaque(params.afterId, 'bigint')}
       and ${params.integrationId ? sql`e.integration_id = ${params.integrationId}::uuid` : sql`true`}
     order by e.id
     limit ${params.limit}::int`);
  return rows.map((r) => ({ ...r, eventId: Number(r.eventId), at: iso(r.at)! }));
}

export async function ticketLogSpan(db: DbOrTx): Promise<{ oldest: number; latest: number }> {
  const [row] = await db.execute<{ oldest: string; latest: string }>(
    sql`select coalesce(min(id), 1) as oldest, coalesce(max(id), 0) as latest from ticket_events`,
  );
  return { oldest: Number(row?.oldest ?? 1), latest: Number(row?.latest ?? 0) };
}

export type QueueStats = {
  queueId: string;
  name: string;
  teamId: string;
  team: string;
  strategy: 'least_loaded' | 'round_robin';
  offerMode: 'offer' | 'auto_accept';
  /** Tickets waiting (queued). */
  depth: number;
  /** Offered, not yet answered. */
  offered: number;
  /** How long the oldest waiting ticket has waited, ms (0 when none). */
  oldestWaitMs: number;
  /** Team agents available now. */
  agentsAvailable: number;
  /** Available team agents with spare capacity on at least one channel. */
  agentsRoutable: number;
  /** Median time from creation to acceptance over the last 100 accepted tickets, ms (null: none yet). */
  medianTimeToAcceptMs: number | null;
  /** Median time from acceptance to completion over the last 100 completed tickets, ms (null: none yet). */
  medianHandleMs: number | null;
};

/** The ids of the queues owned by the given teams. */
export async function queueIdsOfTeams(db: DbOrTx, params: { teamIds: string[] }): Promise<string[]> {
  if (params.teamIds.length === 0) return [];
  const rows = await db.execute<{ id: string }>(
    sql`select id from queues where team_id in (${sql.join(params.teamIds.map((id) => sql`${id}::uuid`), sql`, `)})`,
  );
  return rows.map((r) => r.id);
}

/** Statistics per queue (all, or the given ones). */
export async function queueStats(db: DbOrTx, params: { queueIds?: string[] } = {}): Promise<QueueStats[]> {
  const filter =
    params.queueIds === undefined
      ? sql`true`
      : params.queueIds.length === 0
        ? sql`false`
        : sql`q.id in (${sql.join(params.queueIds.map((id) => sql`${id}::uuid`), sql`, `)})`;
  const rows = await db.execute<QueueStats & { oldestWaitMs: string | number | null }>(sql`
    select q.id as "queueId", q.name, q.team_id as "teamId", t.name as team, q.strategy, q.offer_mode as "offerMode",
           (select count(*)::int from tickets k where k.queue_id = q.id and k.state = 'queued') as depth,
           (select count(*)::int from tickets k where k.queue_id = q.id and k.state = 'offered') as offered,
           coalesce((select extract(epoch from now() - min(k.queued_at)) * 1000 from tickets k
                      where k.queue_id = q.id and k.state = 'queued'), 0)::bigint as "oldestWaitMs",
           (select count(*)::int from team_members tm join agent_presence p on p.agent_id = tm.user_id
             where tm.team_id = q.team_id and tm.role = 'agent' and p.status = 'available') as "agentsAvailable",
           (select count(*)::int from team_members tm join agent_presence p on p.agent_id = tm.user_id
              left join agent_routing r on r.agent_id = tm.user_id
             where tm.team_id = q.team_id and tm.role = 'agent' and p.status = 'available'
               and exists (select 1 from jsonb_each_text(q.capacity) c
                            where coalesce((r.capacity ->> c.key)::int, c.value::int) >
                                  (select count(*) from tickets k where k.agent_id = tm.user_id
                                      and k.channel::text = c.key and k.state in ('offered', 'assigned')))) as "agentsRoutable",
           (select (percentile_cont(0.5) within group (order by extract(epoch from x.accepted_at - x.created_at) * 1000))::int
              from (select accepted_at, created_at from tickets k where k.queue_id = q.id and k.accepted_at is not null
                     order by k.accepted_at desc limit 100) x) as "medianTimeToAcceptMs",
           (select (percentile_cont(0.5) within group (order by extract(epoch from x.ended_at - x.accepted_at) * 1000))::int
              from (select ended_at, accepted_at from tickets k where k.queue_id = q.id and k.state = 'completed'
                       and k.accepted_at is not null order by k.ended_at desc limit 100) x) as "medianHandleMs"
      from queues q join teams t on t.id = q.team_id
     where ${filter}
     order by q.name`);
  return rows.map((r) => ({ ...r, oldestWaitMs: Number(r.oldestWaitMs ?? 0) }));
}

/** Counts for a public "agents online" widget: no names, no ids beyond the queue's. */
export async function availability(db: DbOrTx, params: { queue: string }): Promise<{ queue: string; online: number; available: number } | undefined> {
  const [row] = await db.execute<{ name: string; online: number; available: number }>(sql`
    select q.name,
           count(*) filter (where p.status <> 'offline')::int as online,
           count(*) filter (where p.status = 'available')::int as available
      from queues q
      left join team_members tm on tm.team_id = q.team_id and tm.role = 'agent'
      left join agent_presence p on p.agent_id = tm.user_id
     where q.name = ${params.queue}
     group by q.name`);
  return row ? { queue: row.name, online: row.online, available: row.available } : undefined;
}
