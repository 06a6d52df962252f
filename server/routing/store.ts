// Routing writes. Each claim is one transaction: lock the best queued tickets
// with SKIP LOCKED, rank the queue team's agents with the pure `rankCandidates`,
// lock the first eligible agent with SKIP LOCKED (busy rows belong to a claim on
// another node: skip them), re-check it under the lock, and offer. Every other
// write locks the agent's row first, then the ticket, so nothing can deadlock
// with a presence change (which locks the agent, then returns its offers).
import { randomUUID } from 'node:crypto';
import { and, eq, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client';
import { opaque, Pipelined } from '../../db/pipelined';
import { retrying, StartOver } from '../../db/retry';
import { agentPresence, queues, tickets, type Channel } from '../../db/schema';
import { changeLockedAgent, loadChange, type PresenceRow } from '../presence/store';
import { recordedFrom, recordStatement, type RecordRow } from '../realtime/record';
import { presenceChannel, ticketChannel } from '../realtime/channels';
import { RoutingNotFoundError, TicketStateError } from './errors';
import { appendTicketEvents, type TicketEventInput } from './ledger';
import { CHANNELS, hasRoom, readTeam, teamOf, type AgentFacts, type Team } from './team-cache';
import { rankCandidates, whyChosen, whyWaiting, type Candidate, type Considered, type Ranking, type Strategy } from './pick';

export type Queue = typeof queues.$inferSelect;
type TicketRow = typeof tickets.$inferSelect;

export type RoutingSettings = {
  /** How long an offer waits for an answer. */
  offerTimeoutMs: number;
  /** Missed offers in a row that set an agent away (`missed_offers`). */
  missedOffersLimit: number;
};

/** An offer made; `version` is the ticket's version it made (later events of the ticket have higher ones). */
export type Offer = { ticketId: string; offerId: string; agentId: string; expiresAt: Date | null; queueId: string; version: number };

export type Explanation = {
  strategy: Strategy;
  /** The first agents considered (eligible ones in rank order, then skipped ones), each with its verdict. */
  considered: Considered[];
  /** Every agent of the team by verdict (agents not available are counted, not listed). */
  counts: { eligible: number; not_available: number; at_capacity: number; missing_skill: number };
  /** Considered agents left out of `considered`. */
  unlisted: number;
  winner: string | null;
  why: string;
};

// ---------------------------------------------------------------------------
// Creating

export type NewTicket = {
  externalId: string;
  queue: string;
  channel: Channel;
  priority: number;
  skills: string[];
  subject: string;
  url?: string;
  metadata: Record<string, unknown>;
};

export type CreatedTicket = {
  id: string;
  externalId: string;
  queueId: string;
  channel: Channel;
  priority: number;
  createdAt: string;
};

const created = (t: TicketRow): CreatedTicket => ({
  id: t.id,
  externalId: t.externalId,
  queueId: t.queueId,
  channel: t.channel,
  priority: t.priority,
  createdAt: t.createdAt.toISOString(),
});

async function findQueue(db: Db | Tx, ref: string): Promise<Queue> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref);
  const [queue] = await db
    .select()
    .from(queues)
    .where(isUuid ? eq(queues.id, ref) : eq(queues.name, ref));
  if (!queue) throw new RoutingNotFoundError(`queue: no queue ${JSON.stringify(ref)}`);
  return queue;
}

/**
 * Creates a ticket and, in the same transaction, tries to offer it. Idempotent
 * on (integration, externalId): a repeat — even a concurrent one, which waits
 * on the unique index — answers with the ticket first created. Three round
 * trips when it offers: the insert and the queue's head, the agent's lock,
 * the writes with COMMIT (decision 016).
 */
export async function createTicket(
  db: Db,
  settings: RoutingSettings,
  params: { integrationId: string; ticket: NewTicket; queue?: Queue; teams?: TeamSource },
): Promise<{ ticket: CreatedTicket; offer: Offer | undefined }> {
  const queue = params.queue ?? (await findQueue(db, params.ticket.queue));
  const team = await (params.teams ?? readTeamNow(db))(queue);
  const { queue: _ref, ...fields } = params.ticket;
  const withRoom = channelsWithRoom(queue, team.available);
  return inOneTransaction(db, async (trip) => {
    trip.sendBegin();
    // Plain SQL, not drizzle's insert builder: building that cost 226 µs a call, this 5 µs (decision 024).
    const insert = trip.send(sql`
      insert into tickets (integration_id, external_id, queue_id, channel, priority, skills, subject, url, metadata, wait_reason)
      values (${params.integrationId}::uuid, ${fields.externalId}, ${queue.id}::uuid, ${fields.channel}::ticket_channel,
              ${fields.priority}::smallint, ${sql.param(fields.skills)}::text[], ${fields.subject}, ${fields.url ?? null}::text,
              ${JSON.stringify(fields.metadata)}::jsonb, 'just created')
      on conflict (integration_id, external_id) do nothing
      returning *`);
    // The new ticket joins the queue in its place: the claim takes the most
    // urgent, oldest tickets first, so it cannot jump ahead of those waiting.
    const head = sendWaiting(trip, queue, withRoom);
    // Both awaited together: awaited one after the other, a failed insert (a connection cut) would
    // leave the read's failure unhandled.
    const [[insertedRow], waiting] = await Promise.all([insert, head]);
    if (!insertedRow) {
      const [existing] = await trip.commitAfter([
        trip.send(
          db
            .select()
            .from(tickets)
            .where(and(eq(tickets.integrationId, params.integrationId), eq(tickets.externalId, params.ticket.externalId))),
        ),
      ]);
      if (!existing?.[0]) throw new Error('ticket vanished after a conflicting insert');
      return { ticket: created(ticketFromRow(existing[0])), offer: undefined };
    }
    const inserted = ticketFromRow(insertedRow);
    const notes: SQLWrapper[] = [];
    if (!waiting.some((t) => t.id === inserted.id)) {
      // Not looked at by this claim: nobody has room on its channel (say who is where), or older tickets come first.
      const note = withRoom.includes(inserted.channel)
        ? noteWhy(inserted, 'behind older or more urgent tickets')
        : noteWhyWaiting(queue, team, inserted);
      if (note) notes.push(note);
    }
    const choice = await choose(trip, queue, waiting, team);
    const createdEvent: TicketEventInput = { ticketId: inserted.id, integrationId: inserted.integrationId, type: 'created', state: 'queued', version: 1 };
    const offer = await finishClaim(trip, settings, queue, choice, [...notes, ...choice.notes], [createdEvent]);
    return { ticket: created(inserted), offer };
  });
}

/** Runs `work` as one transaction pipelined on a connection of its own (db/pipelined.ts); again from the start if it loses a deadlock. */
function inOneTransaction<T>(db: Db, work: (trip: Pipelined) => Promise<T>): Promise<T> {
  return retrying(async () => {
    const trip = await Pipelined.open(db);
    try {
      return await work(trip);
    } finally {
      await trip.close();
    }
  });
}

// ---------------------------------------------------------------------------
// Claiming

/** Waiting tickets a claim looks at, per channel. */
const CLAIM_WINDOW = 10;

/**
 * Sends the read of the queue's most urgent, oldest waiting tickets that no
 * other claim holds, locking them: the first few of each channel someone
 * could take, so a channel whose agents are all at capacity cannot keep the
 * others' tickets waiting. Sorted most urgent first.
 */
async function sendWaiting(trip: Pipelined, queue: Queue, channels: readonly Channel[]): Promise<TicketRow[]> {
  if (channels.length === 0) return [];
  const rows = await trip.send(sql`
    select k.* from unnest(${opaque(`{${channels.join(',')}}`, 'ticket_channel[]')}) as c(channel)
     cross join lateral (
       select * from tickets
        where queue_id = ${queue.id} and state = 'queued' and channel = c.channel
        order by priority, queued_at, id
        limit ${CLAIM_WINDOW}
        for update skip locked) k
     order by k.priority, k.queued_at, k.id`);
  return rows.map(ticketFromRow);
}

/** The ticket's `passed_by` with this agent added (once): they declined it, let the offer expire or released it. */
function passedOnBy(agentId: string): SQL {
  return sql`array_append(array_remove(${tickets.passedBy}, ${agentId}::uuid), ${agentId}::uuid)`;
}

/** A tickets row read with plain SQL, in the shape drizzle's select gives. */
function ticketFromRow(r: Record<string, unknown>): TicketRow {
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    id: r.id as string,
    integrationId: r.integration_id as string,
    externalId: r.external_id as string,
    queueId: r.queue_id as string,
    channel: r.channel as Channel,
    priority: r.priority as number,
    skills: r.skills as string[],
    subject: r.subject as string,
    url: (r.url as string | null) ?? null,
    metadata: r.metadata as Record<string, unknown>,
    state: r.state as TicketRow['state'],
    agentId: (r.agent_id as string | null) ?? null,
    offerId: (r.offer_id as string | null) ?? null,
    offerExpiresAt: date(r.offer_expires_at),
    waitReason: (r.wait_reason as string | null) ?? null,
    passedBy: (r.passed_by as string[] | null) ?? [],
    createdAt: date(r.created_at)!,
    queuedAt: date(r.queued_at)!,
    acceptedAt: date(r.accepted_at),
    endedAt: date(r.ended_at),
    version: r.version as number,
  };
}

/**
 * Offers the most urgent ticket of the queue that someone can take (three
 * round trips when it does). `more` is false when the claim saw nothing else
 * waiting that it could have offered: another claim right after would find
 * nothing (tickets other claims hold are theirs to offer).
 */
export async function claimNext(
  db: Db,
  settings: RoutingSettings,
  queue: Queue,
  teams: TeamSource = readTeamNow(db),
): Promise<{ offer: Offer | undefined; more: boolean }> {
  // Agents first: when nobody has room on any channel (a busy desk, most of the time), no ticket is touched.
  const team = await teams(queue);
  const withRoom = channelsWithRoom(queue, team.available);
  if (withRoom.length === 0) return { offer: undefined, more: false };
  return inOneTransaction(db, async (trip) => {
    trip.sendBegin();
    const waiting = await sendWaiting(trip, queue, withRoom);
    if (!waiting.length) return { offer: undefined, more: false }; // rolled back by close()
    const choice = await choose(trip, queue, waiting, team);
    const offer = await finishClaim(trip, settings, queue, choice, choice.notes, []);
    return { offer, more: offer !== undefined && waiting.length > 1 };
  });
}

/**
 * Where a claim gets the queue's team: the node's TeamCache, or (by default) a
 * read. Taken before the claim's transaction opens (a claim holding a pooled
 * connection must not wait for another from the same pool), and safe to be a
 * little old: the picked agent is re-checked under its lock.
 */
export type TeamSource = (queue: Queue) => Promise<Team>;

export const readTeamNow = (db: Db): TeamSource => async (queue) => teamOf(await readTeam(db, queue.teamId), queue.capacity);

/** Channels on which some agent with room has spare capacity. */
function channelsWithRoom(queue: Queue, agents: readonly AgentFacts[]): Channel[] {
  return CHANNELS.filter((channel) => agents.some((a) => hasRoom(a, queue.capacity, channel)));
}

function candidatesFor(ticket: TicketRow, queue: Queue, agents: readonly AgentFacts[], taken: ReadonlySet<string>): Candidate[] {
  return agents.map((a) => ({
    agentId: a.agentId,
    status: taken.has(a.agentId) ? ('busy' as const) : ('available' as const),
    skills: a.skills,
    load: a.load[ticket.channel] ?? 0,
    capacity: a.capacity[ticket.channel] ?? queue.capacity[ticket.channel] ?? 0,
    lastOfferedAt: a.lastOfferedAt,
  }));
}

/** Agents listed one by one in an explanation; beyond this, only counts. */
const EXPLAINED_AGENTS = 25;

/** What a claim records: counts by verdict for the whole team, and the first agents one by one (the eligible in rank order first). */
function explain(queue: Queue, ranking: Ranking, team: Team, winner: string | null): Explanation {
  const counts = { eligible: 0, not_available: team.notAvailable, at_capacity: team.full, missing_skill: 0 };
  for (const c of ranking.considered) counts[c.eligible ? 'eligible' : c.reason] += 1;
  // The eligible in rank order, then the skipped in team order: the first EXPLAINED_AGENTS of them.
  const first = ranking.order.slice(0, EXPLAINED_AGENTS);
  const wanted = new Set(first);
  const byId = new Map<string, Considered>();
  for (const c of ranking.considered) if (c.eligible && wanted.has(c.agentId)) byId.set(c.agentId, c);
  const listed = first.map((id) => byId.get(id)!);
  for (const c of ranking.considered) {
    if (listed.length >= EXPLAINED_AGENTS) break;
    if (!c.eligible) listed.push(c);
  }
  return {
    strategy: queue.strategy,
    considered: listed,
    counts,
    unlisted: ranking.considered.length - listed.length,
    winner,
    why: winner ? whyChosen(queue.strategy, ranking, winner) : whyWaiting(ranking, team.notAvailable, team.full),
  };
}

/** What a claim decided: the ticket, the agent it locked for it, and why. */
type Decision = { ticket: TicketRow; agent: PresenceRow; explanation: Explanation };
/** A claim's outcome: a decision, if any, and wait reasons to write with its commit. */
type Choice = { decision?: Decision; notes: SQLWrapper[]; team: Team };

/** Agents one lock statement tries, in rank order. */
const LOCK_CANDIDATES = 16;
/** Lock statements a claim sends before it gives up (its source of the team was behind: a kick follows). */
const MAX_LOCKS = 3;

/**
 * Tries the waiting tickets (locked by the caller) in order and locks an
 * agent for the first one someone can take: one statement locks the first
 * able agent of the ranking (`sendLockFirstAble`), skipping those other claims
 * hold.
 */
async function choose(trip: Pipelined, queue: Queue, waiting: readonly TicketRow[], team: Team): Promise<Choice> {
  const notes: SQLWrapper[] = [];
  const unavailable = new Set<string>(); // locked by another claim, or no longer able, this round
  // Tickets of a window mostly share a channel and skills, and nobody passed on them: rank the team once per such need.
  const rankings = new Map<string, Ranking>();
  let locks = 0;
  for (const ticket of waiting) {
    if (locks >= MAX_LOCKS) break;
    const need = `${ticket.channel}|${[...ticket.skills].sort().join(',')}|${[...ticket.passedBy].sort().join(',')}`;
    let ranking = rankings.get(need);
    if (!ranking) {
      ranking = rankCandidates(queue.strategy, ticket, candidatesFor(ticket, queue, team.available, new Set()));
      rankings.set(need, ranking);
    }
    if (ranking.order.length === 0) {
      // Nobody could take it (skills, capacity): record why.
      const note = noteWhyWaiting(queue, team, ticket, ranking);
      if (note) notes.push(note);
      continue;
    }
    // Eligible agents held by other claims are no reason worth a write: they are free again within
    // milliseconds, and the ticket is claimed then.
    const candidates = ranking.order.filter((id) => !unavailable.has(id)).slice(0, LOCK_CANDIDATES);
    if (candidates.length === 0) continue;
    locks += 1;
    const agent = await sendLockFirstAble(trip, {
      channel: ticket.channel,
      candidates: candidates.map((agentId) => ({ agentId, capacity: capacityFor(queue, team, agentId, ticket.channel) })),
    });
    // The candidates ranked above the one locked (all of them, if none) were held by other claims or not able after all.
    for (const id of candidates) {
      if (id === agent?.agentId) break;
      unavailable.add(id);
    }
    if (!agent) continue;
    team.correct?.(agent);
    // Explained as decided: the agents passed over count as not available (most claims pass over nobody).
    const decided =
      unavailable.size === 0 ? ranking : rankCandidates(queue.strategy, ticket, candidatesFor(ticket, queue, team.available, unavailable));
    return { decision: { ticket, agent, explanation: explain(queue, decided, team, agent.agentId) }, notes, team };
  }
  return { notes, team };
}

function capacityFor(queue: Queue, team: Team, agentId: string, channel: Channel): number {
  const agent = team.available.find((a) => a.agentId === agentId);
  return agent?.capacity[channel] ?? queue.capacity[channel] ?? 0;
}

/** The write recording why a ticket nobody took waits, if that changed. */
function noteWhyWaiting(
  queue: Queue,
  team: Team,
  ticket: TicketRow,
  ranking = rankCandidates(queue.strategy, ticket, candidatesFor(ticket, queue, team.available, new Set())),
): SQLWrapper | undefined {
  return noteWhy(ticket, whyWaiting(ranking, team.notAvailable, team.full));
}

function noteWhy(ticket: TicketRow, reason: string): SQLWrapper | undefined {
  return reason === ticket.waitReason ? undefined : sql`update tickets set wait_reason = ${reason} where id = ${ticket.id}`;
}

/**
 * Locks the first of the candidates (in the order given) that is available
 * with room on the channel under its lock, skipping rows another transaction
 * holds: one statement however many are busy or full. The row locked is the
 * newest version (a change committed since the statement began is re-checked).
 */
async function sendLockFirstAble(
  trip: Pipelined,
  params: { channel: Channel; candidates: ReadonlyArray<{ agentId: string; capacity: number }> },
): Promise<PresenceRow | undefined> {
  const ids = `{${params.candidates.map((c) => c.agentId).join(',')}}`;
  const capacities = `{${params.candidates.map((c) => c.capacity).join(',')}}`;
  const [row] = await trip.send<PresenceRow>(sql`
    select p.agent_id as "agentId", p.manual_status as "manualStatus", p.manual_reason as "manualReason",
           p.manual_actor_id as "manualActorId", p.manual_note as "manualNote", p.status, p.reason, p.since, p.devices,
           p.version, p.last_seen_at as "lastSeenAt", p.load
      from unnest(${ids}::uuid[], ${capacities}::int[]) with ordinality as c(agent_id, capacity, rank)
      join agent_presence p on p.agent_id = c.agent_id
     where p.status = 'available' and coalesce((p.load ->> ${params.channel}::text)::int, 0) < c.capacity
     order by c.rank
     limit 1
     for update of p skip locked`);
  return row;
}

/**
 * The claim's last trip: its wait-reason notes, the offer (ticket, the
 * agent's last-offered time, the agent's load and the events, in one record
 * statement) and COMMIT, sent together. Without a decision, only the notes
 * and `before` (the create's own event) are written.
 */
async function finishClaim(
  trip: Pipelined,
  settings: RoutingSettings,
  queue: Queue,
  choice: Choice,
  notes: readonly SQLWrapper[],
  before: TicketEventInput[],
): Promise<Offer | undefined> {
  const sentNotes = notes.map((note) => trip.send(note));
  const { decision } = choice;
  if (!decision) {
    const record = recordStatement({ tickets: before });
    await trip.commitAfter([...sentNotes, ...(record ? [trip.send(record)] : [])]);
    return undefined;
  }
  const { ticket, agent, explanation } = decision;
  const auto = queue.offerMode === 'auto_accept';
  const offerId = auto ? null : randomUUID();
  const state: TicketRow['state'] = auto ? 'assigned' : 'offered';
  const version = ticket.version + 1; // the ticket is locked: nobody else moves its version
  const update = trip.send<{ offer_expires_at: string | null }>(sql`
    update tickets
       set state = ${state}::ticket_state, agent_id = ${agent.agentId}, offer_id = ${offerId}::uuid,
           offer_expires_at = ${auto ? sql`null` : sql`now() + make_interval(secs => ${settings.offerTimeoutMs / 1000})`},
           accepted_at = ${auto ? sql`now()` : sql`accepted_at`}, wait_reason = null, version = ${version}
     where id = ${ticket.id}
    returning offer_expires_at`);
  const routed = trip.send(sql`
    insert into agent_routing (agent_id, last_offered_at) values (${agent.agentId}, now())
    on conflict (agent_id) do update set last_offered_at = now()`);
  const events: TicketEventInput[] = [
    ...before,
    { ticketId: ticket.id, integrationId: ticket.integrationId, type: 'offered', state, version, agentId: agent.agentId, explanation },
    ...(auto
      ? [{ ticketId: ticket.id, integrationId: ticket.integrationId, type: 'accepted' as const, state, version, agentId: agent.agentId, reason: 'auto_accept' }]
      : []),
  ];
  const record = trip.send<RecordRow>(recordStatement(loadChange(agent, events))!);
  const [[row], , recorded] = await trip.commitAfter([update, routed, record, ...sentNotes] as const);
  if (!row) throw new Error('offered ticket vanished');
  const agentVersion = recordedFrom(recorded).version;
  if (agentVersion === undefined) throw new Error(`agent ${agent.agentId} vanished under its lock`);
  // The team's source learns of the offer now, not when the feed brings it: the claim that follows
  // on this node must not see room that this one just took.
  choice.team.correct?.({
    agentId: agent.agentId,
    status: agent.status,
    load: { ...agent.load, [ticket.channel]: (agent.load[ticket.channel] ?? 0) + 1 },
    version: agentVersion,
    lastOfferedAt: Date.now(),
  });
  return {
    ticketId: ticket.id,
    offerId: offerId ?? randomUUID(),
    agentId: agent.agentId,
    expiresAt: row.offer_expires_at === null ? null : new Date(row.offer_expires_at),
    queueId: queue.id,
    version,
  };
}

// ---------------------------------------------------------------------------
// Answers and endings: agent row first, then the ticket.

type Locked = { agent: PresenceRow | undefined; ticket: TicketRow };

/** Locks the ticket's agent (if any), then the ticket, and checks the agent did not change in between. */
async function lockTicket(tx: Tx, ticketId: string): Promise<Locked | undefined> {
  const [peek] = await tx.select({ agentId: tickets.agentId }).from(tickets).where(eq(tickets.id, ticketId));
  if (!peek) return undefined;
  const agent = peek.agentId
    ? (await tx.select().from(agentPresence).where(eq(agentPresence.agentId, peek.agentId)).for('update'))[0]
    : undefined;
  const [ticket] = await tx.select().from(tickets).where(eq(tickets.id, ticketId)).for('update');
  if (!ticket) return undefined;
  if (ticket.agentId === peek.agentId) return { agent, ticket };
  // Re-offered between the peek and the lock. Waiting for the new agent while
  // holding the ticket could deadlock with that agent's status change (which
  // holds the agent and wants the ticket): start the transaction over.
  throw new StartOver('the ticket changed hands while being locked');
}

export type AgentAction = 'accept' | 'decline' | 'complete' | 'release';

const needs: Record<AgentAction, TicketRow['state']> = { accept: 'offered', decline: 'offered', complete: 'assigned', release: 'assigned' };

/**
 * An agent answers an offer or ends work on a ticket they hold: one statement,
 * `sb_ticket_act` (migration 0009, decision 025), which locks the agent row and
 * then the ticket, checks, writes the ticket, the agent's routing row and load,
 * and records the events, all inside PostgreSQL: no lock is held while a busy
 * node gets round to sending the next statement.
 */
export async function agentAct(
  db: Db,
  params: { agentId: string; ticketId: string; action: AgentAction; reason?: string },
): Promise<{ state: TicketRow['state']; queueId: string }> {
  return retrying(async () => {
    const [row] = await db.$client<Array<{ outcome: 'done' | 'start_over' | 'not_found' | 'wrong_state'; new_state: TicketRow['state'] | null; queue_id: string | null }>>`
      select outcome, new_state, queue_id
        from sb_ticket_act(${params.ticketId}::uuid, ${params.agentId}::uuid, ${params.action}::text, ${params.reason ?? null}::text,
                           ${presenceChannel.name}::text, ${presenceChannel.encode({ n: 1 })}::text,
                           ${ticketChannel.name}::text, ${ticketChannel.encode({ n: 1 })}::text)`;
    switch (row?.outcome) {
      case 'done':
        return { state: row.new_state!, queueId: row.queue_id! };
      case 'start_over':
        throw new StartOver('the ticket changed hands while being locked');
      case 'wrong_state': // new_state is then the state the ticket is in
        throw new TicketStateError(`ticket is ${row.new_state}; ${params.action} needs it ${needs[params.action]}`);
      default:
        throw new RoutingNotFoundError('ticketId: no such ticket offered to or held by you');
    }
  });
}

/**
 * Ends an offer nobody answered, if it is still that offer (exactly once,
 * whoever calls first: the offering node's timer, or the pg-boss job). After
 * `missedOffersLimit` misses in a row the agent is set away (`missed_offers`),
 * which returns their other offers too.
 */
export async function expireOffer(
  db: Db,
  settings: RoutingSettings,
  params: { ticketId: string; offerId: string },
): Promise<{ expired: boolean; agentId?: string; setAway?: boolean; queueId?: string }> {
  // Most offers are answered before their deadline: look before locking anything.
  const [current] = await db.select({ offerId: tickets.offerId }).from(tickets).where(eq(tickets.id, params.ticketId));
  if (current?.offerId !== params.offerId) return { expired: false };
  return retrying(() =>
    db.transaction(async (tx) => {
      const locked = await lockTicket(tx, params.ticketId);
      if (!locked?.agent || locked.ticket.state !== 'offered' || locked.ticket.offerId !== params.offerId) return { expired: false };
      const { ticket, agent } = locked;
      const [row] = await tx
        .update(tickets)
        .set({
          state: 'queued',
          agentId: null,
          offerId: null,
          offerExpiresAt: null,
          waitReason: 'offer timed out',
          passedBy: passedOnBy(agent.agentId),
          version: sql`${tickets.version} + 1`,
        })
        .where(eq(tickets.id, ticket.id))
        .returning();
      if (!row) throw new Error('ticket vanished under its lock');
      const [missed] = await tx.execute<{ n: number }>(sql`
        insert into agent_routing (agent_id, missed_offers) values (${agent.agentId}, 1)
        on conflict (agent_id) do update set missed_offers = agent_routing.missed_offers + 1
        returning missed_offers as n`);
      const setAway = (missed?.n ?? 0) >= settings.missedOffersLimit && agent.status === 'available';
      if (setAway) await tx.execute(sql`update agent_routing set missed_offers = 0 where agent_id = ${agent.agentId}`);
      await changeLockedAgent(tx, agent, {
        agentId: agent.agentId,
        loadChanged: true,
        ...(setAway ? { manual: { status: 'away' as const, reason: 'missed_offers' as const } } : {}),
        ticketEvents: [
          { ticketId: row.id, integrationId: row.integrationId, type: 'offer_expired', state: 'queued', version: row.version, agentId: agent.agentId, reason: 'offer_timeout' },
        ],
      });
      return { expired: true, agentId: agent.agentId, setAway, queueId: row.queueId };
    }),
  );
}

/** The integration withdraws a ticket it created; an agent holding it is freed. */
export async function cancelTicket(db: Db, params: { integrationId: string; ticketId: string; reason?: string }): Promise<TicketRow['state']> {
  return retrying(() =>
    db.transaction(async (tx) => {
      const locked = await lockTicket(tx, params.ticketId);
      if (!locked || locked.ticket.integrationId !== params.integrationId) throw new RoutingNotFoundError('id: no such ticket');
      const { ticket, agent } = locked;
      if (ticket.state === 'completed' || ticket.state === 'cancelled') throw new TicketStateError(`ticket is already ${ticket.state}`);
      const [row] = await tx
        .update(tickets)
        .set({ state: 'cancelled', agentId: null, offerId: null, offerExpiresAt: null, endedAt: sql`now()`, version: sql`${tickets.version} + 1` })
        .where(eq(tickets.id, ticket.id))
        .returning();
      if (!row) throw new Error('ticket vanished under its lock');
      const events: TicketEventInput[] = [
        { ticketId: row.id, integrationId: row.integrationId, type: 'cancelled', state: 'cancelled', version: row.version, agentId: ticket.agentId, reason: params.reason },
      ];
      if (agent) await changeLockedAgent(tx, agent, { agentId: agent.agentId, loadChanged: true, ticketEvents: events });
      else await appendTicketEvents(tx, events);
      return row.state;
    }),
  );
}

/** Offers past their deadline (a node died before its timer fired, or a job was late). */
export async function overdueOffers(db: Db): Promise<Array<{ ticketId: string; offerId: string }>> {
  return db.execute<{ ticketId: string; offerId: string }>(sql`
    select id as "ticketId", offer_id as "offerId" from tickets
     where state = 'offered' and offer_expires_at < now() order by offer_expires_at limit 500`);
}

/**
 * Sends assigned tickets back to their queues when the agent holding them has
 * been away or offline longer than `afterMs` (0: never).
 */
export async function requeueAbandoned(db: Db, params: { afterMs: number }): Promise<string[]> {
  if (params.afterMs <= 0) return [];
  const stale = await db.execute<{ id: string }>(sql`
    select k.id from tickets k join agent_presence p on p.agent_id = k.agent_id
     where k.state = 'assigned' and p.status in ('away', 'offline')
       and p.since < now() - make_interval(secs => ${params.afterMs / 1000})
     limit 500`);
  const queueIds = new Set<string>();
  for (const { id } of stale) {
    await retrying(() =>
      db.transaction(async (tx) => {
        const locked = await lockTicket(tx, id);
        if (!locked?.agent || locked.ticket.state !== 'assigned') return;
        if (locked.agent.status !== 'away' && locked.agent.status !== 'offline') return;
        const reason = `agent_${locked.agent.status}`;
        const [row] = await tx
          .update(tickets)
          .set({ state: 'queued', agentId: null, waitReason: `held by an agent ${locked.agent.status} too long`, version: sql`${tickets.version} + 1` })
          .where(eq(tickets.id, id))
          .returning();
        if (!row) return;
        await changeLockedAgent(tx, locked.agent, {
          agentId: locked.agent.agentId,
          loadChanged: true,
          ticketEvents: [
            { ticketId: row.id, integrationId: row.integrationId, type: 'requeued', state: 'queued', version: row.version, agentId: locked.agent.agentId, reason },
          ],
        });
        queueIds.add(row.queueId);
      }),
    );
  }
  return [...queueIds];
}

export { findQueue };
