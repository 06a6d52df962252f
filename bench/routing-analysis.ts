// What the routing benchmark concludes after the run, from the database and
// from what the clients recorded:
// - correctness: the ticket event log replayed (bench/routing-replay.ts);
// - create-to-offer, for tickets offered in the transaction that created
//   them: end to end, from the create request's start to the agent's client
//   seeing the offer in work.watch; and the log's offered.at − created.at;
// - queued-to-offer after capacity frees, for tickets that had to wait: from
//   the event that freed the capacity to the ticket's first `offered` event,
//   in SQL over ticket_events (the definition is in offerTimings), and end to
//   end, from the client's answer to the freeing `work.complete` to the
//   receiving agent's client seeing the offer;
// - tickets routed per second, and how the figures move over the run.
import postgres from 'postgres';
import type { Capacity, Channel } from '../db/schema';
import type { Handled } from './routing-agents';
import type { Created } from './routing-load';
import { ENDING_TYPES, replay, type LoggedEvent, type ReplayResult } from './routing-replay';

/** Where the ticket's first offer came from. */
type OfferTiming = {
  ticketId: string;
  /** Offered by the transaction that created it. */
  atCreation: boolean;
  /** The ticket whose ending freed the capacity, when that ending came after the ticket was created. */
  freedBy: string | null;
  createdToOfferMs: number;
  queuedToOfferMs: number;
  offeredAtMs: number;
};

export type Slice = {
  fromMs: number;
  created: number;
  atCreation: number;
  waited: number;
  createToOfferMs: number[];
  queuedToOfferDbMs: number[];
  queuedToOfferMs: number[];
  createAnswerMs: number[];
};

export type Analysis = {
  replay: ReplayResult;
  states: Record<string, number>;
  creates: { sent: number; ok: number; failures: Map<string, number> };
  offers: { first: number; atCreation: number; waited: number; waitedThoughFree: number; neverOffered: number; seenByClients: number; completed: number };
  /** End to end, offered at creation: create request start → the agent's client sees the offer. */
  createToOfferMs: number[];
  /** ticket_events offered.at − created.at for the same tickets (0: both are the creating transaction's now()). */
  createToOfferDbMs: number[];
  /** ticket_events first offered.at − created.at for every ticket: the whole wait, queued ones included. */
  createToFirstOfferDbMs: number[];
  createAnswerMs: number[];
  /** ticket_events: the freeing event's at → offered.at, for tickets that waited. */
  queuedToOfferDbMs: number[];
  /** End to end for the same: the freeing work.complete answered → the receiving agent's client sees the offer. */
  queuedToOfferMs: number[];
  acceptAnswerMs: number[];
  completeAnswerMs: number[];
  /** Offers per second while tickets were being created, by the log's clock. */
  routedPerSecond: number;
  createdPerSecond: number;
  slices: Slice[];
};

export async function analyze(params: {
  url: string;
  created: readonly Created[];
  handled: ReadonlyMap<string, Handled>;
  sliceMs: number;
}): Promise<Analysis> {
  const sql = postgres(params.url, { max: 1, onnotice: () => undefined });
  try {
    const events = await sql<Array<LoggedEvent & { atMs: number }>>`
      select e.id::int as id, e.ticket_id as "ticketId", e.type, e.agent_id as "agentId",
             k.channel, k.queue_id as "queueId", extract(epoch from e.at)::float8 * 1000 as "atMs"
        from ticket_events e join tickets k on k.id = e.ticket_id
       order by e.id`;
    const overrides = new Map(
      (await sql<Array<{ agentId: string; capacity: Partial<Capacity> }>>`select agent_id as "agentId", capacity from agent_routing`).map(
        (r) => [r.agentId, r.capacity],
      ),
    );
    const queueCapacity = new Map(
      (await sql<Array<{ id: string; capacity: Capacity }>>`select id, capacity from queues`).map((q) => [q.id, q.capacity]),
    );
    const capacityOf = (agentId: string, channel: Channel, queueId: string) =>
      overrides.get(agentId)?.[channel] ?? queueCapacity.get(queueId)?.[channel] ?? 0;
    const states = Object.fromEntries(
      (await sql<Array<{ state: string; n: number }>>`select state, count(*)::int as n from tickets group by state`).map((r) => [r.state, r.n]),
    );
    const timings = await offerTimings(sql);
    return combine({ ...params, events, replayed: replay(events, capacityOf), states, timings });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Each ticket's first offer, from the log. Offered at creation: the `offered`
 * event directly follows the ticket's `created` one in the same transaction
 * (consecutive ids — events are appended under a transaction lock — and the
 * same `at`, the transaction's now()). Otherwise it waited, and the capacity
 * it got was freed by the last ending (completed, declined, offer_expired,
 * released, requeued, cancelled) of the agent it was offered to before the
 * offer; queued-to-offer runs from that ending's `at` — or from the ticket's
 * creation, when that agent's last ending came earlier (the agent had room
 * when the ticket arrived, yet it was not offered then) — to the offer's `at`.
 * Each `at` is its transaction's now(), its start.
 */
async function offerTimings(sql: postgres.Sql): Promise<OfferTiming[]> {
  return sql<OfferTiming[]>`
    with ev as (
      select id, ticket_id, type, agent_id, at,
             max(id) filter (where type::text in ${sql(ENDING_TYPES)})
               over (partition by agent_id order by id rows between unbounded preceding and 1 preceding) as freeing_id
        from ticket_events
    ), first_offer as (
      select distinct on (ticket_id) id, ticket_id, at, freeing_id from ev where type = 'offered' order by ticket_id, id
    )
    select o.ticket_id as "ticketId",
           (o.id = c.id + 1 and o.at = c.at) as "atCreation",
           case when f.id > c.id then f.ticket_id end as "freedBy",
           extract(epoch from o.at - c.at)::float8 * 1000 as "createdToOfferMs",
           extract(epoch from o.at - case when f.id > c.id then f.at else c.at end)::float8 * 1000 as "queuedToOfferMs",
           extract(epoch from o.at)::float8 * 1000 as "offeredAtMs"
      from first_offer o
      join ticket_events c on c.ticket_id = o.ticket_id and c.type = 'created'
      left join ticket_events f on f.id = o.freeing_id`;
}

function combine(params: {
  events: ReadonlyArray<LoggedEvent & { atMs: number }>;
  replayed: ReplayResult;
  states: Record<string, number>;
  timings: readonly OfferTiming[];
  created: readonly Created[];
  handled: ReadonlyMap<string, Handled>;
  sliceMs: number;
}): Analysis {
  const { created, handled, timings, sliceMs } = params;
  const byTicket = new Map<string, Created>();
  const failures = new Map<string, number>();
  for (const c of created) {
    if (c.ticketId) byTicket.set(c.ticketId, c);
    else failures.set(c.error ?? 'no answer', (failures.get(c.error ?? 'no answer') ?? 0) + 1);
  }
  const start = created[0]?.sentAt ?? 0;
  const slices: Slice[] = [];
  const sliceOf = (c: Created): Slice => {
    const i = Math.max(0, Math.floor((c.sentAt - start) / sliceMs));
    for (let j = slices.length; j <= i; j += 1) {
      slices.push({ fromMs: j * sliceMs, created: 0, atCreation: 0, waited: 0, createToOfferMs: [], queuedToOfferDbMs: [], queuedToOfferMs: [], createAnswerMs: [] });
    }
    return slices[i]!;
  };

  const a: Analysis = {
    replay: params.replayed,
    states: params.states,
    creates: { sent: created.length, ok: byTicket.size, failures },
    offers: { first: timings.length, atCreation: 0, waited: 0, waitedThoughFree: 0, neverOffered: 0, seenByClients: 0, completed: 0 },
    createToOfferMs: [],
    createToOfferDbMs: [],
    createToFirstOfferDbMs: [],
    createAnswerMs: [],
    queuedToOfferDbMs: [],
    queuedToOfferMs: [],
    acceptAnswerMs: [],
    completeAnswerMs: [],
    routedPerSecond: Number.NaN,
    createdPerSecond: Number.NaN,
    slices,
  };

  for (const c of created) {
    const slice = sliceOf(c);
    slice.created += 1;
    if (c.answeredAt !== undefined && c.ticketId) {
      a.createAnswerMs.push(c.answeredAt - c.sentAt);
      slice.createAnswerMs.push(c.answeredAt - c.sentAt);
    }
  }
  for (const h of handled.values()) {
    a.offers.seenByClients += 1;
    if (h.completeAnsweredAt !== undefined) a.offers.completed += 1;
    if (h.acceptAnsweredAt !== undefined) a.acceptAnswerMs.push(h.acceptAnsweredAt - h.offerSeenAt);
    if (h.completeAnsweredAt !== undefined && h.completeSentAt !== undefined) a.completeAnswerMs.push(h.completeAnsweredAt - h.completeSentAt);
  }

  for (const t of timings) {
    const c = byTicket.get(t.ticketId);
    const seen = handled.get(t.ticketId);
    const slice = c ? sliceOf(c) : undefined;
    a.createToFirstOfferDbMs.push(t.createdToOfferMs);
    if (t.atCreation) {
      a.offers.atCreation += 1;
      if (slice) slice.atCreation += 1;
      a.createToOfferDbMs.push(t.createdToOfferMs);
      if (c && seen) {
        a.createToOfferMs.push(seen.offerSeenAt - c.sentAt);
        slice?.createToOfferMs.push(seen.offerSeenAt - c.sentAt);
      }
      continue;
    }
    a.offers.waited += 1;
    if (slice) slice.waited += 1;
    a.queuedToOfferDbMs.push(t.queuedToOfferMs);
    slice?.queuedToOfferDbMs.push(t.queuedToOfferMs);
    if (!t.freedBy) a.offers.waitedThoughFree += 1;
    const from = t.freedBy ? handled.get(t.freedBy)?.completeAnsweredAt : c?.answeredAt;
    if (from !== undefined && seen) {
      a.queuedToOfferMs.push(seen.offerSeenAt - from);
      slice?.queuedToOfferMs.push(seen.offerSeenAt - from);
    }
  }
  a.offers.neverOffered = byTicket.size - timings.filter((t) => byTicket.has(t.ticketId)).length;

  // Rates by the log's clock: offers made while tickets were being created.
  const createdAt = params.events.filter((e) => e.type === 'created').map((e) => e.atMs);
  const first = Math.min(...createdAt);
  const last = Math.max(...createdAt);
  if (createdAt.length > 1 && last > first) {
    const seconds = (last - first) / 1000;
    a.createdPerSecond = (createdAt.length - 1) / seconds;
    a.routedPerSecond = params.events.filter((e) => e.type === 'offered' && e.atMs >= first && e.atMs <= last).length / seconds;
  }
  return a;
}
