// The router of one node. Routing runs whenever capacity may have appeared,
// learnt from the two event feeds every node tails: a presence event of an
// agent who became available or whose load fell (a ticket completed, released,
// declined, expired, cancelled) kicks the queues of that agent's teams; a ticket
// back in its queue kicks that queue. A kick claims only where the ticket feed
// shows tickets waiting (`WaitingTickets`): room usually frees with nothing
// queued. A new ticket is offered in the very transaction that creates it.
// Every node routes; SKIP LOCKED keeps their claims apart. A periodic sweep,
// which claims wherever the database shows tickets queued, is the safety net.
// An admin's change of a team's agents (a `teams` control notice) makes the
// team cache read those teams again and kicks their queues.
// Offers end by a local timer at the deadline (fast) or by a pg-boss job
// (durable, if this node dies); `expireOffer` acts only on the offer it names,
// so whichever comes first ends it, exactly once.
import { sql } from 'drizzle-orm';
import type { JobInsert, PgBoss } from 'pg-boss';
import { retryingLostConnection } from '../../db/retry';
import type { Db } from '../../db/client';
import { queues as queuesTable } from '../../db/schema';
import type { Logger } from '../log';
import type { Hub, RosterDelta, TicketDelta } from '../realtime/hub';
import {
  agentAct,
  cancelTicket,
  claimNext,
  createTicket,
  expireOffer,
  overdueOffers,
  requeueAbandoned,
  type AgentAction,
  type CreatedTicket,
  type NewTicket,
  type Offer,
  type Queue,
  type RoutingSettings,
  type TeamSource,
  readTeamNow,
} from './store';
import { BusyError } from './errors';
import { TeamCache } from './team-cache';
import { WaitingTickets } from './waiting';

export const OFFER_EXPIRY_QUEUE = 'offer-expiry';
const QUEUE_CACHE_MS = 2_000;
/** Claims a node runs at once (its routing pool has as many connections). */
const CLAIMERS = 4;
/** Ticket events that free capacity of the agent named in them. */
const FREES_AGENT = new Set(['declined', 'offer_expired', 'released', 'completed', 'cancelled', 'requeued']);
/**
 * How long a node waits before routing room made by an agent whose devices
 * are on another node: long enough for that node's offer to reach this one's
 * team source through the feed (milliseconds), short enough to matter only
 * when that node is gone or stalled.
 */
const DEFERRED_KICK_MS = 250;
/** Offers whose expiry jobs go to pg-boss together: those made within this long. */
const EXPIRY_BATCH_MS = 10;

export type RouterStats = {
  claims: number;
  /** Claims not made because the ticket feed showed nothing waiting in the queue. */
  skippedClaims: number;
  offers: number;
  expired: number;
  kicks: number;
  refusedCreates: number;
  /** Agents' answers this node carried out: offers accepted and declined, tickets completed and released. */
  actions: Record<AgentAction, number>;
};

export class Router {
  readonly stats: RouterStats = {
    claims: 0,
    skippedClaims: 0,
    offers: 0,
    expired: 0,
    kicks: 0,
    refusedCreates: 0,
    actions: { accept: 0, decline: 0, complete: 0, release: 0 },
  };
  /** Claims made per queue (for tests and metrics). */
  readonly claimsByQueue = new Map<string, number>();
  private queueCache: { at: number; byId: Map<string, Queue> } | undefined;
  /** Queues to route, the claimers at work, and per queue: kicks so far and claims in flight. */
  private readonly dirty = new Set<string>();
  /** Dirty queues claimed even if the feed shows nothing waiting: the sweep found tickets queued there. */
  private readonly forced = new Set<string>();
  /** Which queues have tickets waiting, from the ticket feed: claims on the others are skipped. */
  private readonly waiting = new WaitingTickets();
  private readonly claimers = new Set<Promise<void>>();
  private readonly kicked = new Map<string, number>();
  private readonly working = new Map<string, number>();
  /** Local expiry timers of this node's open offers, by ticket. */
  private readonly timers = new Map<string, { offerId: string; version: number; timer: NodeJS.Timeout }>();
  /** What the presence feed last said of each agent: available or not, and their teams. */
  private readonly available = new Map<string, boolean>();
  private readonly teamsOf = new Map<string, string[]>();
  private unsubscribe: Array<() => void> = [];
  /** The routed teams, kept from the feeds: claims rank from memory. */
  private teamCache: TeamCache | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly deferred = new Set<NodeJS.Timeout>();
  /** Creates in progress on this node, by integration and external id. */
  private readonly creating = new Map<string, Promise<CreatedTicket>>();
  private pendingExpiries: Array<JobInsert<{ ticketId: string; offerId: string }>> = [];
  private expiryFlush: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      db: Db;
      /** Claims, expiries and sweeps run on a pool of their own, so waiting requests cannot hold routing up. */
      routingDb?: Db;
      hub: Hub;
      boss: PgBoss;
      log: Logger;
      /** `createsInFlight`: tickets this node creates at once (more are refused: BusyError). */
      settings: RoutingSettings & { assignedRequeueAfterMs: number; sweepMs: number; createsInFlight?: number };
      /**
       * Whether an agent has a device session on this node. Room an agent
       * made is routed first by the node their devices are on (it usually
       * made the change too); the other nodes look DEFERRED_KICK_MS later,
       * when their team source mostly shows the room taken and the claim
       * costs nothing. Without it every node routes at once.
       */
      hosts?: (agentId: string) => boolean;
      /** Each ticket create's duration on this node, offer included (for /metrics). */
      observeCreate?: (seconds: number) => void;
    },
  ) {}

  private get routingDb(): Db {
    return this.deps.routingDb ?? this.deps.db;
  }

  async start(): Promise<void> {
    const { boss, hub, settings } = this.deps;
    await boss.createQueue(OFFER_EXPIRY_QUEUE, { policy: 'standard', retryLimit: 5, retryDelay: 1, retentionSeconds: 3600, deleteAfterSeconds: 600 });
    await boss.work<{ ticketId: string; offerId: string }>(OFFER_EXPIRY_QUEUE, { pollingIntervalSeconds: 1, batchSize: 50 }, async (jobs) => {
      for (const job of jobs) await this.expire(job.data);
    });
    this.teamCache = new TeamCache(this.routingDb);
    this.unsubscribe = [
      hub.presence.subscribe((d) => this.onPresence(d)),
      hub.tickets.subscribe((d) => this.onTicket(d)),
      hub.onControl((message) => {
        if (message.k === 'teams') this.onTeamsChanged(message.t, message.a);
      }),
    ];
    await this.waiting.load(this.routingDb);
    this.sweepTimer = setInterval(() => void this.sweep(), settings.sweepMs);
    this.sweepTimer.unref();
    void this.sweep();
  }

  /**
   * Creates a ticket (offering it at once if someone can take it). Beyond
   * `createsInFlight` creates at once, refuses (BusyError): a node that queued
   * every create under a flood would make agents' accepts and completes wait
   * behind them for its connections, free capacity ever later, and sink
   * (decision 016). Identical creates in flight (same integration and
   * external id) share one answer and count once.
   */
  create(integrationId: string, ticket: NewTicket): Promise<CreatedTicket> {
    // The same ticket already being created here (a client retrying before its first answer): share that answer.
    const key = `${integrationId}\u0000${ticket.externalId}`;
    const same = this.creating.get(key);
    if (same) return same;
    const limit = this.deps.settings.createsInFlight ?? Infinity;
    if (this.creating.size >= limit) {
      this.stats.refusedCreates += 1;
      return Promise.reject(new BusyError(`tickets.create: this node is creating ${limit} tickets already; send the same call again in a second`));
    }
    const started = performance.now();
    const creating = (async () => {
      const byRef = (byId: Map<string, Queue>) => byId.get(ticket.queue) ?? [...byId.values()].find((q) => q.name === ticket.queue);
      const queue = byRef(await this.queues());
      // Creating is idempotent on the external id, so a create whose connection was cut under it
      // (a database restart) is made again here rather than failing to the ticketing system.
      const result = await retryingLostConnection(() => createTicket(this.deps.db, this.deps.settings, { integrationId, ticket, queue, teams: this.teams }));
      if (result.offer) this.offered(result.offer);
      this.deps.observeCreate?.((performance.now() - started) / 1000);
      return result.ticket;
    })().finally(() => this.creating.delete(key));
    this.creating.set(key, creating);
    return creating;
  }

  async act(params: { agentId: string; ticketId: string; action: AgentAction; reason?: string }) {
    const result = await agentAct(this.deps.db, params);
    this.stats.actions[params.action] += 1;
    return result;
  }

  cancel(params: { integrationId: string; ticketId: string; reason?: string }) {
    return cancelTicket(this.deps.db, params);
  }

  /**
   * Routes the given queues now: claimers work them until no claim succeeds.
   * A queue where the ticket feed shows nothing waiting is skipped unless
   * `force` (the sweep's kicks: the database showed tickets queued there).
   */
  kick(queueIds: Iterable<string>, options: { force?: boolean } = {}): Promise<void> {
    for (const id of queueIds) {
      this.dirty.add(id);
      if (options.force) this.forced.add(id);
      this.kicked.set(id, (this.kicked.get(id) ?? 0) + 1);
    }
    this.stats.kicks += 1;
    while (this.claimers.size < CLAIMERS && !this.stopped && this.nextQueue() !== undefined) {
      const claimer: Promise<void> = this.claim().finally(() => this.claimers.delete(claimer));
      this.claimers.add(claimer);
    }
    return Promise.all(this.claimers).then(() => undefined);
  }

  /** A dirty queue with room for another claimer. */
  private nextQueue(): string | undefined {
    for (const id of this.dirty) if ((this.working.get(id) ?? 0) < CLAIMERS) return id;
    return undefined;
  }

  /**
   * One claimer: claims on dirty queues until none is left. Several run side
   * by side, on one queue too (SKIP LOCKED keeps them on different tickets and
   * agents); a queue stays dirty until a claim on it sees nothing more to
   * offer and no kick arrived meanwhile.
   */
  private async claim(): Promise<void> {
    for (let queueId = this.nextQueue(); queueId !== undefined && !this.stopped; queueId = this.nextQueue()) {
      const kickedBefore = this.kicked.get(queueId);
      this.working.set(queueId, (this.working.get(queueId) ?? 0) + 1);
      try {
        const queue = (await this.queues()).get(queueId) ?? (await this.queues({ fresh: true })).get(queueId);
        // Checked after that await: the feed's events of one read (a ticket created, then offered) are all in by now.
        if (!this.forced.has(queueId) && !this.waiting.mayWait(queueId)) {
          this.stats.skippedClaims += 1;
          if (this.kicked.get(queueId) === kickedBefore) this.dirty.delete(queueId);
          continue;
        }
        this.forced.delete(queueId);
        const { offer, more } = queue ? await claimNext(this.routingDb, this.deps.settings, queue, this.teams) : { offer: undefined, more: false };
        this.stats.claims += 1;
        this.claimsByQueue.set(queueId, (this.claimsByQueue.get(queueId) ?? 0) + 1);
        if (offer) this.offered(offer);
        if (!more && this.kicked.get(queueId) === kickedBefore) this.dirty.delete(queueId);
      } catch (error) {
        this.deps.log.error('routing a queue failed', { queueId, error });
        this.dirty.delete(queueId); // the sweep tries again
      } finally {
        this.working.set(queueId, (this.working.get(queueId) ?? 1) - 1);
      }
    }
  }

  private offered(offer: Offer): void {
    this.stats.offers += 1;
    if (!offer.expiresAt) return; // auto-accepted
    const expiresAt = offer.expiresAt;
    this.forgetOffer(offer.ticketId);
    const timer = setTimeout(() => {
      this.timers.delete(offer.ticketId);
      // A failure is logged by expire; the offer's job (below) or the sweep ends it later.
      this.expire({ ticketId: offer.ticketId, offerId: offer.offerId }).catch(() => undefined);
    }, Math.max(0, expiresAt.getTime() - Date.now()));
    timer.unref();
    this.timers.set(offer.ticketId, { offerId: offer.offerId, version: offer.version, timer });
    // The durable path, if this node is gone by then.
    this.scheduleExpiry({ data: { ticketId: offer.ticketId, offerId: offer.offerId }, startAfter: new Date(expiresAt.getTime() + 250) });
  }

  /**
   * Queues an offer's expiry job; the jobs of offers made within
   * EXPIRY_BATCH_MS go to pg-boss in one insert (one statement per offer was a
   * tenth of the database's statements under load). An offer whose job is lost
   * with this node in that window is still ended by the sweep (`overdueOffers`).
   */
  private scheduleExpiry(job: JobInsert<{ ticketId: string; offerId: string }>): void {
    this.pendingExpiries.push(job);
    if (this.expiryFlush) return;
    this.expiryFlush = setTimeout(() => void this.flushExpiries(), EXPIRY_BATCH_MS);
    this.expiryFlush.unref();
  }

  private async flushExpiries(): Promise<void> {
    clearTimeout(this.expiryFlush);
    this.expiryFlush = undefined;
    const jobs = this.pendingExpiries.splice(0);
    if (!jobs.length) return;
    await this.deps.boss
      .insert(OFFER_EXPIRY_QUEUE, jobs)
      .catch((error: unknown) => this.deps.log.error('scheduling offer expiries failed', { jobs: jobs.length, error }));
  }

  /** The offer was answered or withdrawn: its local timer has nothing left to do (the job finds it gone). */
  private forgetOffer(ticketId: string): void {
    const held = this.timers.get(ticketId);
    if (!held) return;
    clearTimeout(held.timer);
    this.timers.delete(ticketId);
  }

  private async expire(offer: { ticketId: string; offerId: string }): Promise<void> {
    try {
      const result = await expireOffer(this.routingDb, this.deps.settings, offer);
      if (result.expired) this.stats.expired += 1;
    } catch (error) {
      this.deps.log.error('ending an offer failed', { ...offer, error });
      throw error; // a job retries
    }
  }

  /** An agent who became available may take work from any queue of their teams. */
  /** Where claims get a queue's team: memory once started. */
  private readonly teams: TeamSource = (queue) => (this.teamCache ? this.teamCache.team(queue) : readTeamNow(this.deps.db)(queue));

  private onPresence(delta: RosterDelta): void {
    const { row } = delta;
    const wasAvailable = this.available.get(row.agentId);
    this.available.set(row.agentId, row.status === 'available');
    this.teamsOf.set(row.agentId, row.teamIds);
    // The cache first, so the claims this kicks see the room this row made.
    const madeRoom = this.teamCache?.onPresence(row) ?? false;
    if ((row.status === 'available' && !wasAvailable) || madeRoom) this.routeRoomOf(row.agentId, () => this.kickTeams(row.teamIds));
  }

  /** Routes room an agent made: now if their devices are here (or nobody's are), a little later otherwise. */
  private routeRoomOf(agentId: string | null | undefined, kick: () => Promise<void>): void {
    // A failed kick (the database went away under it) is logged; the routing sweep routes the room later.
    const run = () => void kick().catch((error: unknown) => this.deps.log.error('routing room an agent made failed', { agentId, error }));
    if (!agentId || !this.deps.hosts || this.deps.hosts(agentId)) {
      run();
      return;
    }
    const timer = setTimeout(() => {
      this.deferred.delete(timer);
      if (!this.stopped) run();
    }, DEFERRED_KICK_MS);
    timer.unref();
    this.deferred.add(timer);
  }

  /** A ticket back in its queue may go to someone; an agent whose load fell may take more. */
  private onTicket(delta: TicketDelta): void {
    this.teamCache?.onTicket(delta);
    this.waiting.apply(delta);
    // A later event of a ticket this node offered (accepted, declined, returned, cancelled) ends the offer.
    const held = this.timers.get(delta.ticketId);
    if (held && delta.version > held.version) this.forgetOffer(delta.ticketId);
    // A ticket that now waits in its queue, and room its agent (if any) made: one kick for both (most
    // such events are both), routed first where that agent is. "Waits" is the rule WaitingTickets keeps:
    // back in the queue (declined, expired, released, requeued), or created and not offered by its own
    // transaction (room may have appeared while it was created; the claims that room caused could not
    // see it yet).
    const backInQueue = delta.state === 'queued';
    const freed = FREES_AGENT.has(delta.type) ? delta.agentId : null;
    if (!backInQueue && !freed) return;
    const queueIds = backInQueue ? [delta.queueId] : [];
    this.routeRoomOf(delta.agentId, () => {
      if (!freed) return this.kick(queueIds);
      const teams = this.teamsOf.get(freed);
      return teams ? this.kickTeams(teams, queueIds) : this.kick([delta.queueId]).then(() => this.kickAgentTeams(freed));
    });
  }

  /**
   * The agents of these teams changed (team-changes.ts): claims read the teams
   * again, the named agents' teams are looked up afresh, and the teams' queues
   * are routed now (a waiting ticket may fit the change).
   */
  private onTeamsChanged(teamIds: readonly string[], agentIds: readonly string[]): void {
    this.teamCache?.forget(teamIds);
    for (const agentId of agentIds) this.teamsOf.delete(agentId);
    if (teamIds.length && !this.stopped) {
      this.kickTeams(teamIds).catch((error: unknown) => this.deps.log.error('routing changed teams failed', { teamIds, error }));
    }
  }

  /** Kicks the queues of these teams, and `also` these queues, at once. */
  private async kickTeams(teamIds: readonly string[], also: readonly string[] = []): Promise<void> {
    const ofTeams = (byId: Map<string, Queue>) => [...byId.values()].filter((q) => teamIds.includes(q.teamId));
    let mine = ofTeams(await this.queues());
    // A team without a queue in the cache may have gained one since it was read.
    if (new Set(mine.map((q) => q.teamId)).size < teamIds.length) mine = ofTeams(await this.queues({ fresh: true }));
    const queueIds = new Set([...also, ...mine.map((q) => q.id)]);
    if (queueIds.size) await this.kick(queueIds);
  }

  private async kickAgentTeams(agentId: string): Promise<void> {
    const rows = await this.routingDb.execute<{ teamId: string }>(
      sql`select team_id as "teamId" from team_members where user_id = ${agentId} and role = 'agent'`,
    );
    this.teamsOf.set(agentId, rows.map((r) => r.teamId));
    await this.kickTeams(rows.map((r) => r.teamId));
  }

  /** Queues by id, cached briefly (a queue's settings change rarely; a new queue is read on first sight). */
  private async queues(options: { fresh?: boolean } = {}): Promise<Map<string, Queue>> {
    const age = this.queueCache ? Date.now() - this.queueCache.at : Infinity;
    // A fresh read is asked for on a miss; a quarter second of staleness still bounds it for teams without queues.
    if (age < (options.fresh ? QUEUE_CACHE_MS / 8 : QUEUE_CACHE_MS)) return this.queueCache!.byId;
    const rows = await this.routingDb.select().from(queuesTable);
    this.queueCache = { at: Date.now(), byId: new Map(rows.map((q) => [q.id, q])) };
    return this.queueCache.byId;
  }

  /** The safety net: overdue offers, tickets held by agents gone too long, and every queue with waiting tickets. */
  async sweep(): Promise<void> {
    try {
      for (const offer of await overdueOffers(this.routingDb)) await this.expire(offer);
      const requeued = await requeueAbandoned(this.routingDb, { afterMs: this.deps.settings.assignedRequeueAfterMs });
      const waiting = await this.routingDb.execute<{ queueId: string }>(
        sql`select distinct queue_id as "queueId" from tickets where state = 'queued'`,
      );
      await this.kick([...requeued, ...waiting.map((w) => w.queueId)], { force: true });
    } catch (error) {
      this.deps.log.error('routing sweep failed', { error });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    for (const u of this.unsubscribe) u();
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    for (const timer of this.deferred) clearTimeout(timer);
    this.deferred.clear();
    this.timers.clear();
    await Promise.all(this.claimers);
    await this.flushExpiries();
    await this.deps.boss.offWork(OFFER_EXPIRY_QUEUE).catch(() => {});
  }
}
