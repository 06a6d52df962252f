// The presence engine of one node. It attaches device connections to sessions,
// takes heartbeats in memory and flushes their last-seen times in one statement
// about once a second, writes changes of state (attach, activity, end, chosen
// status) at once through presence/store, holds a closed connection's session
// for the disconnect grace (a reload must not flap), and renews this node's row.
// In memory it keeps only what it can rebuild or lose: its own sockets'
// sessions, heartbeat times not yet flushed, and grace timers.
// A node that cannot renew its row lets go of its sessions before other nodes
// would declare it lost (decision 035): it stops acknowledging their heartbeats
// and has its sockets closed, so their tabs resume them on another node.
import type { Db } from '../../db/client';
import { markNodeStopped, registerNode, touchNode } from '../../db/queries/nodes';
import { retryingLostConnection } from '../../db/retry';
import type { Timing } from '../env';
import type { Logger } from '../log';
import type { Activity, Status } from './aggregate';
import { deviceLabel } from './device-label';
import {
  attachSession,
  changeAgent,
  endLiveSessions,
  endReasons,
  endSession,
  flushLastSeen,
  notifyEnded,
  setSessionActivity,
  type ChangeResult,
  type EndReason,
} from './store';

export type SessionHandle = { agentId: string; sessionId: string; generation: number };

/** How a session's end reaches the connection holding it. */
export type EndedNotice = { reason: EndReason; by?: string; note?: string };

type LiveSession = SessionHandle & {
  activity: Activity;
  onEnded: (notice: EndedNotice) => void;
};

export class SessionNotLiveError extends Error {
  override name = 'SessionNotLiveError';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} is not live on this connection; subscribe to presence.session again`);
  }
}

/** The node has let go of its sessions for want of its database, and takes none until it renews its row again. */
export class NodeCutOffError extends Error {
  override name = 'NodeCutOffError';
  constructor() {
    super('this node cannot reach its database; connect to another node');
  }
}

/** How often pending heartbeats are written. */
const FLUSH_EVERY_MS = 1_000;
/** How often the engine looks at how fresh its node's row is (at most; a quarter of a node heartbeat when that is shorter). */
const RENEWAL_CHECK_MS = 500;
/** Renewals of the node's row waiting for an answer at once, at most: the control pool's two connections' worth. */
const RENEWALS_IN_FLIGHT = 2;

/**
 * How long after the start of the node's last successful renewal it lets go
 * of its sessions: one node heartbeat before the node timeout, so their tabs
 * have about a heartbeat to resume them elsewhere before a sweep would end
 * them `node_lost`. Never less than one and a half heartbeats, or a node whose
 * renewal is merely late (a heartbeat apart, plus the statement) would give up
 * while all is well; with NODE_TIMEOUT_MS under 2.5 heartbeats that leaves its
 * tabs less time (decision 035).
 */
export function giveUpAfterMs(timing: Pick<Timing, 'NODE_HEARTBEAT_MS' | 'NODE_TIMEOUT_MS'>): number {
  return Math.max(timing.NODE_TIMEOUT_MS - timing.NODE_HEARTBEAT_MS, 1.5 * timing.NODE_HEARTBEAT_MS);
}

export class PresenceEngine {
  /** Sessions whose connection is open on this node, by session id. */
  private readonly live = new Map<string, LiveSession>();
  /** How many of those each agent has, so `hosts` is a lookup (the router asks on every roster change). */
  private readonly liveOfAgent = new Map<string, number>();
  /** Heartbeat times not yet written, by session id. */
  private pendingSeen = new Map<string, Date>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private nodeTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * When (performance.now()) the last renewal of the node's row that succeeded
   * was *started*: the row is at least this fresh, however long the statement
   * took to come back.
   */
  private renewedAt = 0;
  /** Renewals sent and not yet answered. */
  private renewing = 0;
  /** When the node let go of its sessions for want of its database, while it has not renewed its row since. */
  private cutOffSince: number | undefined;
  private flushing: Promise<void> | undefined;
  private started = false;
  /** Counters for benchmarks and metrics. */
  readonly stats = { heartbeats: 0, flushes: 0, flushedRows: 0, cutOffs: 0 };

  constructor(
    private readonly deps: {
      db: Db;
      nodeId: string;
      nodeName: string;
      timing: Timing;
      log: Logger;
      /**
       * For benchmark baselines only: write each heartbeat through this instead
       * of batching it (one UPSERT per heartbeat, or a Redis ZADD).
       */
      heartbeatSink?: (sessionId: string, at: Date) => Promise<void>;
      /**
       * A pool of its own for the node's liveness and the heartbeat flush, so a
       * flood of requests on the main pool cannot delay the node's renewal until
       * other nodes declare it lost. Defaults to `db`.
       */
      controlDb?: Db;
      /** The node's counters, stored with each renewal of its row for `system.nodes`. */
      reportStats?: () => Record<string, number>;
      /** Each heartbeat flush's duration, for /metrics. */
      observeFlush?: (seconds: number) => void;
      /**
       * The node has let go of its sessions because it cannot renew its row:
       * close every socket, so clients reconnect (through the front) to a node
       * that can resume their sessions. Called once per outage.
       */
      onLostDatabase?: () => void;
    },
  ) {}

  get nodeId(): string {
    return this.deps.nodeId;
  }

  get liveSessions(): number {
    return this.live.size;
  }

  /** Whether the node has let go of its sessions and is waiting to renew its row again. */
  get cutOff(): boolean {
    return this.cutOffSince !== undefined;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { db, nodeId, nodeName, timing } = this.deps;
    const registering = performance.now();
    await registerNode(db, { id: nodeId, name: nodeName, pid: process.pid });
    this.renewedAt = registering;
    this.nodeTimer = setInterval(() => this.renew(), timing.NODE_HEARTBEAT_MS);
    this.nodeTimer.unref();
    const checkEvery = Math.min(RENEWAL_CHECK_MS, timing.NODE_HEARTBEAT_MS / 4);
    let checkedAt = performance.now();
    this.checkTimer = setInterval(() => {
      const now = performance.now();
      // Time this process could not run (a long pause of the event loop) aged
      // the row without the database being at fault, and the renewal that pause
      // held back is being made only now: it is not counted against the database.
      const paused = Math.max(0, now - checkedAt - checkEvery);
      checkedAt = now;
      this.checkRenewal(now, paused);
    }, checkEvery);
    this.checkTimer.unref();
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.flushTimer.unref();
  }

  /**
   * Renews the node's row. One renewal hung on a dead connection must not
   * hold back the next, which may find a live one; but while the database does
   * not answer at all, renewals would only pile up in the pool's queue (one a
   * heartbeat, each waiting out its connect timeout) and all run at once when
   * it returns: at most RENEWALS_IN_FLIGHT wait at a time.
   */
  private renew(): void {
    if (this.renewing >= RENEWALS_IN_FLIGHT) return;
    this.renewing += 1;
    const startedAt = performance.now();
    const { nodeId, log } = this.deps;
    touchNode(this.deps.controlDb ?? this.deps.db, { id: nodeId, stats: this.deps.reportStats?.() })
      .then(
        () => {
          this.renewedAt = Math.max(this.renewedAt, startedAt);
          if (this.cutOff) this.checkRenewal(performance.now(), 0); // take sessions again without waiting for the check
        },
        (error: unknown) => log.error('renewing the node row failed', { error }),
      )
      .finally(() => (this.renewing -= 1));
  }

  /**
   * Lets go of every session once the row may be about to be declared lost,
   * and takes sessions again once it has been renewed in time.
   */
  private checkRenewal(now: number, paused: number): void {
    const age = now - this.renewedAt;
    const limit = giveUpAfterMs(this.deps.timing);
    if (this.cutOffSince === undefined) {
      if (age - paused > limit) this.letGo(now, age);
    } else if (age <= limit) {
      this.deps.log.warn('the node renewed its row again; it takes sessions again', { cutOffMs: Math.round(now - this.cutOffSince) });
      this.cutOffSince = undefined;
    }
  }

  /**
   * Other nodes are about to end this node's sessions (`node_lost`): stop
   * vouching for them, so their tabs move to a node that can resume them while
   * the sessions still stand. Their grace timers start as their sockets close
   * (see `disconnect`).
   */
  private letGo(now: number, age: number): void {
    this.cutOffSince = now;
    this.stats.cutOffs += 1;
    const sessions = this.live.size;
    this.live.clear();
    this.liveOfAgent.clear();
    // Not written later either: this node no longer vouches for them.
    this.pendingSeen.clear();
    this.deps.log.error('the node cannot renew its row: it lets go of its sessions and closes its sockets', {
      sessions,
      lastRenewalMsAgo: Math.round(age),
    });
    this.deps.onLostDatabase?.();
  }

  /** A device connection opened: attach it to its session (new, or one in its grace). */
  async connect(params: {
    agentId: string;
    deviceId: string;
    clientSessionId: string;
    userAgent?: string;
    authSessionId?: string;
    onEnded: (notice: EndedNotice) => void;
  }): Promise<SessionHandle & { change: ChangeResult }> {
    // A node that cannot renew its row would vouch for a session other nodes are about to end.
    if (this.cutOff) throw new NodeCutOffError();
    const attached = await attachSession(this.deps.db, {
      agentId: params.agentId,
      deviceId: params.deviceId,
      clientSessionId: params.clientSessionId,
      nodeId: this.deps.nodeId,
      label: deviceLabel(params.userAgent),
      authSessionId: params.authSessionId,
    });
    this.cancelGrace(attached.sessionId);
    const handle = { agentId: params.agentId, sessionId: attached.sessionId, generation: attached.generation };
    // A reattach resets activity to what the device reports next; it starts active.
    this.addLive({ ...handle, activity: 'active', onEnded: params.onEnded });
    return { ...handle, change: attached.change };
  }

  /**
   * The hot path: a device is still there. Memory only — no statement, no lock,
   * no NOTIFY — unless its activity changed, which is a change of state.
   */
  async heartbeat(params: { agentId: string; sessionId: string; activity?: Activity }): Promise<void> {
    const session = this.live.get(params.sessionId);
    if (!session || session.agentId !== params.agentId) throw new SessionNotLiveError(params.sessionId);
    this.stats.heartbeats += 1;
    if (this.deps.heartbeatSink) await this.deps.heartbeatSink(params.sessionId, new Date());
    else this.pendingSeen.set(params.sessionId, new Date());
    if (params.activity && params.activity !== session.activity) {
      session.activity = params.activity;
      await setSessionActivity(this.deps.db, { agentId: session.agentId, sessionId: session.sessionId, activity: params.activity });
    }
  }

  /** Whether the agent has a live device session on this node. */
  hosts(agentId: string): boolean {
    return this.liveOfAgent.has(agentId);
  }

  private addLive(session: LiveSession): void {
    if (!this.live.has(session.sessionId)) this.liveOfAgent.set(session.agentId, (this.liveOfAgent.get(session.agentId) ?? 0) + 1);
    this.live.set(session.sessionId, session);
  }

  private removeLive(sessionId: string): void {
    const session = this.live.get(sessionId);
    if (!session) return;
    this.live.delete(sessionId);
    const left = (this.liveOfAgent.get(session.agentId) ?? 1) - 1;
    if (left > 0) this.liveOfAgent.set(session.agentId, left);
    else this.liveOfAgent.delete(session.agentId);
  }

  /** Any sign of life from a session's socket (e.g. a keep-alive answer) counts as seen. */
  seen(sessionId: string): void {
    if (this.live.has(sessionId)) this.pendingSeen.set(sessionId, new Date());
  }

  /** Writes all pending last-seen times in one statement. */
  flush(): Promise<void> {
    if (this.flushing || this.pendingSeen.size === 0) return this.flushing ?? Promise.resolve();
    const batch = this.pendingSeen;
    this.pendingSeen = new Map();
    const entries = [...batch].map(([id, at]) => ({ id, at }));
    const started = performance.now();
    this.flushing = flushLastSeen(this.deps.controlDb ?? this.deps.db, entries)
      .then(async (updated) => {
        this.deps.observeFlush?.((performance.now() - started) / 1000);
        this.stats.flushes += 1;
        this.stats.flushedRows += updated.size;
        // A live session that was not updated was ended elsewhere (a sweep, a
        // supervisor); the control channel tells us too, but may have been lost.
        const gone = entries.filter(({ id }) => !updated.has(id) && this.live.has(id)).map(({ id }) => id);
        if (gone.length) {
          for (const [id, reason] of await endReasons(this.deps.db, { sessionIds: gone })) {
            this.endedElsewhere([id], { reason });
          }
        }
      })
      .catch((error: unknown) => {
        // Keep the times for the next flush, unless newer ones arrived meanwhile
        // or the node has let go of the session since.
        for (const [id, at] of batch) if (this.live.has(id) && !this.pendingSeen.has(id)) this.pendingSeen.set(id, at);
        this.deps.log.error('flushing heartbeats failed', { error, pending: this.pendingSeen.size });
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** A device connection closed: end its session once the grace has passed, unless it reattaches. */
  disconnect(handle: SessionHandle): void {
    const session = this.live.get(handle.sessionId);
    if (session?.generation === handle.generation) this.removeLive(handle.sessionId);
    if (!this.started) return;
    this.startGrace(handle);
  }

  private startGrace(handle: SessionHandle): void {
    this.cancelGrace(handle.sessionId);
    const timer = setTimeout(() => {
      this.graceTimers.delete(handle.sessionId);
      // Cut off, the end could not be written (and would wait in the pool's
      // queue): wait for the database. If other nodes end the session first
      // (`node_lost`), or its tab resumes it anywhere (a new generation), the
      // end finds nothing to end.
      if (this.cutOff) {
        this.startGrace(handle);
        return;
      }
      endSession(this.deps.db, { ...handle, reason: 'closed' }).catch((error: unknown) =>
        this.deps.log.error('ending a closed session failed', { error, sessionId: handle.sessionId }),
      );
    }, this.deps.timing.DISCONNECT_GRACE_MS);
    timer.unref();
    this.graceTimers.set(handle.sessionId, timer);
  }

  /** Sessions ended by someone else: tell their connections here, if any. */
  endedElsewhere(sessionIds: readonly string[], notice: EndedNotice): void {
    for (const id of sessionIds) {
      const session = this.live.get(id);
      if (!session) continue;
      this.removeLive(id);
      this.pendingSeen.delete(id);
      session.onEnded(notice);
    }
  }

  setStatus(params: { agentId: string; status: Status }): Promise<ChangeResult> {
    // Choosing a status twice is choosing it once, so a change whose connection was cut under it
    // (a database restart, a failover) is simply made again: the agent's click is not lost.
    return retryingLostConnection(() =>
      changeAgent(this.deps.db, {
        agentId: params.agentId,
        manual: { status: params.status, reason: 'manual' },
      }),
    );
  }

  /**
   * A supervisor imposes away or offline, with who and why. Forcing offline
   * also ends the agent's device sessions (`forced`), and their tabs are told.
   */
  async force(params: { agentId: string; status: 'away' | 'offline'; actorId: string; note?: string }): Promise<ChangeResult> {
    let ended: string[] = [];
    const result = await changeAgent(this.deps.db, {
      agentId: params.agentId,
      manual: { status: params.status, reason: 'forced', actorId: params.actorId, note: params.note },
      change:
        params.status === 'offline'
          ? async (tx) => {
              ended = await endLiveSessions(tx, { agentId: params.agentId, reason: 'forced' });
            }
          : undefined,
    });
    if (ended.length) await notifyEnded(this.deps.db, { sessionIds: ended, reason: 'forced' });
    return result;
  }

  /**
   * Flushes what is pending, stops timers and marks the node stopped. Sessions
   * in their grace are left to the sweep, which ends them once the grace has
   * passed unless their clients reconnected (to any node) first.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.nodeTimer);
    clearInterval(this.checkTimer);
    clearInterval(this.flushTimer);
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
    await this.flushing;
    await this.flush();
    await markNodeStopped(this.deps.db, { id: this.deps.nodeId }).catch((error: unknown) =>
      this.deps.log.error('marking the node stopped failed', { error }),
    );
  }

  private cancelGrace(sessionId: string): void {
    const timer = this.graceTimers.get(sessionId);
    if (timer) clearTimeout(timer);
    this.graceTimers.delete(sessionId);
  }
}
