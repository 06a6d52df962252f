// Routing writes. Each claim is one transaction: lock the best queued tickets
// with SKIP LOCKED, rank the queue team's agents with the pure `rankCandidates`,
// lock the first eligible agent with SKIP LOCKED (busy rows belong to a claim on
// another node: skip them), re-check it under the lock, and offer. Every other
// write locks the agent's row first, then the ticket, so nothing can deadlock
// with a presence change (which locks the agent, then returns its offers).
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client';
import { retrying, StartOver } from '../../db/retry';
import { agentPresence, queues, tickets, type Channel } from '../../db/schema';
import { changeLockedAgent, type PresenceRow } from '../presence/store';
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
 * on the unique index — answers with the ticket first created.
 */
export async function createTicket(
  db: Db,
  settings: RoutingSettings,
  params: { integrationId: string; ticket: NewTicket; queue?: Queue; teams?: TeamSource },
): Promise<{ ticket: CreatedTicket; offer: Offer | undefined }> {
  const queue = params.queue ?? (await findQueue(db, params.ticket.queue));
  const team = await (params.teams ?? readTeamNow(db))(queue);
  return retrying(() =>
    db.transaction(async (tx) => {
      const { queue: _ref, ...fields } = params.ticket;
      const [inserted] = await tx
        .insert(tickets)
        .values({ ...fields, integrationId: params.integrationId, queueId: queue.id, waitReason: 'just created' })
        .onConflictDoNothing({ target: [tickets.integrationId, tickets.externalId] })
        .returning();
      if (!inserted) {
        const [existing] = await tx
          .select()
          .from(tickets)
          .where(and(eq(tickets.integrationId, params.integrationId), eq(tickets.externalId, params.ticket.externalId)));
        if (!existing) throw new Error('ticket vanished after a conflicting insert');
        return { ticket: created(existing), offer: undefined };
      }
      // The new ticket joins the queue in its place: the claim takes the most
      // urgent, oldest tickets first, so it cannot jump ahead of those waiting.
      const withRoom = channelsWithRoom(queue, team.available);
      const waiting = await waitingTickets(tx, queue, withRoom);
      if (!waiting.some((t) => t.id === inserted.id)) {
        // Not looked at by this claim: nobody has room on its channel (say who is where), or older tickets come first.
        if (withRoom.includes(inserted.channel)) {
          await tx.update(tickets).set({ waitReason: 'behind older or more urgent tickets' }).where(eq(tickets.id, inserted.id));
        } else await noteWhyWaiting(tx, queue, team, inserted);
      }
      const claim = await claimAmong(tx, settings, queue, waiting, team);
      const createdEvent: TicketEventInput = { ticketId: inserted.id, integrationId: inserted.integrationId, type: 'created', state: 'queued', version: 1 };
      await commitClaim(tx, claim, [createdEvent]);
      return { ticket: created(inserted), offer: claim?.offer };
    }),
  );
}

// ---------------------------------------------------------------------------
// Claiming

/** Waiting tickets a claim looks at, per channel. */
const CLAIM_WINDOW = 10;

/**
 * The queue's most urgent, oldest waiting tickets that no other claim holds,
 * locked: the first few of each channel someone could take, so a channel whose
 * agents are all at capacity cannot keep the others' tickets waiting. Sorted
 * most urgent first.
 */
async function waitingTickets(tx: Tx, queue: Queue, channels: readonly Channel[]): Promise<TicketRow[]> {
  if (channels.length === 0) return [];
  const rows = await tx.execute<TicketRow & { queuedAt: string; createdAt: string }>(sql`
    select k.* from unnest(${`{${channels.join(',')}}`}::ticket_channel[]) as c(channel)
     cross join lateral (
       select * from tickets
        where queue_id = ${queue.id} and state = 'queued' and channel = c.channel
        order by priority, queued_at, id
        limit ${CLAIM_WINDOW}
        for update skip locked) k
     order by k.priority, k.queued_at, k.id`);
  return rows.map(ticketFromRow);
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
    createdAt: date(r.created_at)!,
    queuedAt: date(r.queued_at)!,
    acceptedAt: date(r.accepted_at),
    endedAt: date(r.ended_at),
    version: r.version as number,
  };
}

/** Offers the most urgent ticket of the queue that someone can take; undefined when none. */
export async function claimNext(db: Db, settings: RoutingSettings, queue: Queue, teams: TeamSource = readTeamNow(db)): Promise<Offer | undefined> {
  // Agents first: when nobody has room on any channel (a busy desk, most of the time), no ticket is touched.
  const team = await teams(queue);
  if (team.available.length === 0) return undefined;
  return retrying(() =>
    db.transaction(async (tx) => {
      const waiting = await waitingTickets(tx, queue, channelsWithRoom(queue, team.available));
      if (!waiting.length) return undefined;
      const claim = await claimAmong(tx, settings, queue, waiting, team);
      await commitClaim(tx, claim);
      return claim?.offer;
    }),
  );
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
    lastOfferedAt: a.lastOfferedAt === null ? null : new Date(a.lastOfferedAt).getTime(),
  }));
}

/** Agents listed one by one in an explanation; beyond this, only counts. */
const EXPLAINED_AGENTS = 25;

/** What a claim records: counts by verdict for the whole team, and the first agents one by one (the eligible in rank order first). */
function explain(queue: Queue, ranking: Ranking, team: Team, winner: string | null): Explanation {
  const counts = { eligible: 0, not_available: team.notAvailable, at_capacity: team.full, missing_skill: 0 };
  for (const c of ranking.considered) counts[c.eligible ? 'eligible' : c.reason] += 1;
  const rank = new Map(ranking.order.map((id, i) => [id, i]));
  const listed = [...ranking.considered]
    .sort((a, b) => (rank.get(a.agentId) ?? Infinity) - (rank.get(b.agentId) ?? Infinity))
    .slice(0, EXPLAINED_AGENTS);
  return {
    strategy: queue.strategy,
    considered: listed,
    counts,
    unlisted: ranking.considered.length - listed.length,
    winner,
    why: winner ? whyChosen(queue.strategy, ranking, winner) : whyWaiting(ranking, team.notAvailable, team.full),
  };
}

/** An offer made in a transaction, with what is left to record at its end. */
type Claim = { offer: Offer; agent: PresenceRow; events: TicketEventInput[] };

/**
 * Records a claim's events last, so the transaction holds the event-order
 * locks (presence, then ticket) only for its final statements: claims on
 * other tickets run side by side until then.
 */
async function commitClaim(tx: Tx, claim: Claim | undefined, before: TicketEventInput[] = []): Promise<void> {
  const events = [...before, ...(claim?.events ?? [])];
  if (claim) await changeLockedAgent(tx, claim.agent, { agentId: claim.agent.agentId, loadChanged: true, ticketEvents: events });
  else await appendTicketEvents(tx, events);
}

/** Tries the tickets in order; offers the first that an agent can take. The tickets are locked by the caller. */
/** Agents a claim tries to lock before it gives up (its source of the team was behind: a kick follows). */
const MAX_TRIES = 8;

async function claimAmong(
  tx: Tx,
  settings: RoutingSettings,
  queue: Queue,
  waiting: readonly TicketRow[],
  team: Team,
): Promise<Claim | undefined> {
  const unavailable = new Set<string>(); // locked by another claim, or no longer able, this round
  // Tickets of a window mostly share a channel and skills: rank the team once for each such need.
  const rankings = new Map<string, Ranking>();
  for (const ticket of waiting) {
    // Every agent with room is taken by other claims, or the team was further behind than a few tries:
    // the presence events that tell of it kick another claim.
    if (unavailable.size >= Math.min(team.available.length, MAX_TRIES)) break;
    const need = `${ticket.channel}|${[...ticket.skills].sort().join(',')}`;
    let ranking = rankings.get(need);
    if (!ranking) {
      ranking = rankCandidates(queue.strategy, { skills: ticket.skills }, candidatesFor(ticket, queue, team.available, new Set()));
      rankings.set(need, ranking);
    }
    for (const agentId of ranking.order) {
      if (unavailable.has(agentId)) continue;
      if (unavailable.size >= MAX_TRIES) break;
      const agent = await lockIfAble(tx, team, { agentId, channel: ticket.channel, capacity: capacityFor(queue, team, agentId, ticket.channel) });
      if (!agent) {
        unavailable.add(agentId);
        continue;
      }
      // Explained as decided: the agents other claims held count as not available.
      const decided = rankCandidates(queue.strategy, { skills: ticket.skills }, candidatesFor(ticket, queue, team.available, unavailable));
      return offer(tx, settings, { queue, ticket, agent, explanation: explain(queue, decided, team, agentId) });
    }
    // Nobody could take it (skills, capacity): record why. Eligible agents held by other claims are no
    // reason worth a write: they are free again within milliseconds, and the ticket is claimed then.
    if (ranking.order.length === 0) await noteWhyWaiting(tx, queue, team, ticket, ranking);
  }
  return undefined;
}

function capacityFor(queue: Queue, team: Team, agentId: string, channel: Channel): number {
  const agent = team.available.find((a) => a.agentId === agentId);
  return agent?.capacity[channel] ?? queue.capacity[channel] ?? 0;
}

/** Records why a ticket nobody took waits, if that changed. */
async function noteWhyWaiting(
  tx: Tx,
  queue: Queue,
  team: Team,
  ticket: TicketRow,
  ranking = rankCandidates(queue.strategy, { skills: ticket.skills }, candidatesFor(ticket, queue, team.available, new Set())),
): Promise<void> {
  const reason = whyWaiting(ranking, team.notAvailable, team.full);
  if (reason !== ticket.waitReason) await tx.update(tickets).set({ waitReason: reason }).where(eq(tickets.id, ticket.id));
}

/**
 * Locks the agent's presence row unless another transaction holds it, and
 * re-checks availability and load under the lock; the row read (if any) goes
 * back to the team's source, which may have been behind.
 */
async function lockIfAble(tx: Tx, team: Team, params: { agentId: string; channel: Channel; capacity: number }): Promise<PresenceRow | undefined> {
  const [row] = await tx
    .select()
    .from(agentPresence)
    .where(eq(agentPresence.agentId, params.agentId))
    .for('update', { skipLocked: true });
  if (!row) return undefined;
  team.correct?.(row);
  if (row.status !== 'available') return undefined;
  return (row.load[params.channel] ?? 0) < params.capacity ? row : undefined;
}

async function offer(
  tx: Tx,
  settings: RoutingSettings,
  params: { queue: Queue; ticket: TicketRow; agent: PresenceRow; explanation: Explanation },
): Promise<Claim> {
  const { queue, ticket, agent, explanation } = params;
  const auto = queue.offerMode === 'auto_accept';
  const offerId = randomUUID();
  const [row] = await tx
    .update(tickets)
    .set(
      auto
        ? { state: 'assigned', agentId: agent.agentId, offerId: null, offerExpiresAt: null, acceptedAt: sql`now()`, waitReason: null, version: sql`${tickets.version} + 1` }
        : {
            state: 'offered',
            agentId: agent.agentId,
            offerId,
            offerExpiresAt: sql`now() + make_interval(secs => ${settings.offerTimeoutMs / 1000})`,
            waitReason: null,
            version: sql`${tickets.version} + 1`,
          },
    )
    .where(eq(tickets.id, ticket.id))
    .returning();
  if (!row) throw new Error('offered ticket vanished');
  await tx.execute(sql`
    insert into agent_routing (agent_id, last_offered_at) values (${agent.agentId}, now())
    on conflict (agent_id) do update set last_offered_at = now()`);
  const events: TicketEventInput[] = [
    { ticketId: row.id, integrationId: row.integrationId, type: 'offered', state: row.state, version: row.version, agentId: agent.agentId, explanation },
    ...(auto
      ? [{ ticketId: row.id, integrationId: row.integrationId, type: 'accepted' as const, state: row.state, version: row.version, agentId: agent.agentId, reason: 'auto_accept' }]
      : []),
  ];
  return {
    offer: { ticketId: row.id, offerId, agentId: agent.agentId, expiresAt: row.offerExpiresAt, queueId: queue.id, version: row.version },
    agent,
    events,
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

/** An agent answers an offer or ends work on a ticket they hold. */
export async function agentAct(
  db: Db,
  params: { agentId: string; ticketId: string; action: AgentAction; reason?: string },
): Promise<{ state: TicketRow['state']; queueId: string }> {
  return retrying(() =>
    db.transaction(async (tx) => {
      const locked = await lockTicket(tx, params.ticketId);
      if (!locked || locked.ticket.agentId !== params.agentId || !locked.agent) {
        throw new RoutingNotFoundError('ticketId: no such ticket offered to or held by you');
      }
      const { ticket, agent } = locked;
      if (ticket.state !== needs[params.action]) {
        throw new TicketStateError(`ticket is ${ticket.state}; ${params.action} needs it ${needs[params.action]}`);
      }
      const backToQueue = params.action === 'decline' || params.action === 'release';
      const next: TicketRow['state'] = params.action === 'accept' ? 'assigned' : backToQueue ? 'queued' : 'completed';
      const [row] = await tx
        .update(tickets)
        .set({
          state: next,
          agentId: next === 'assigned' ? ticket.agentId : null,
          offerId: null,
          offerExpiresAt: null,
          ...(params.action === 'accept' ? { acceptedAt: sql`now()` } : {}),
          ...(next === 'completed' ? { endedAt: sql`now()` } : {}),
          ...(backToQueue ? { waitReason: params.action === 'decline' ? 'declined' : 'released' } : {}),
          version: sql`${tickets.version} + 1`,
        })
        .where(eq(tickets.id, ticket.id))
        .returning();
      if (!row) throw new Error('ticket vanished under its lock');
      const type = ({ accept: 'accepted', decline: 'declined', complete: 'completed', release: 'released' } as const)[params.action];
      if (params.action === 'accept' || params.action === 'decline') {
        await tx.execute(sql`
          insert into agent_routing (agent_id, missed_offers) values (${params.agentId}, 0)
          on conflict (agent_id) do update set missed_offers = 0`);
      }
      const events: TicketEventInput[] = [
        { ticketId: row.id, integrationId: row.integrationId, type, state: row.state, version: row.version, agentId: params.agentId, reason: params.reason },
      ];
      // Accepting keeps the load (an offer already counts); the others free capacity.
      if (params.action === 'accept') await appendTicketEvents(tx, events);
      else await changeLockedAgent(tx, agent, { agentId: params.agentId, loadChanged: true, ticketEvents: events });
      return { state: row.state, queueId: row.queueId };
    }),
  );
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
        .set({ state: 'queued', agentId: null, offerId: null, offerExpiresAt: null, waitReason: 'offer timed out', version: sql`${tickets.version} + 1` })
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
