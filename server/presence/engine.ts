// The presence engine of one node. It attaches device connections to sessions,
// takes heartbeats in memory and flushes their last-seen times in one statement
// about once a second, writes changes of state (attach, activity, end, chosen
// status) at once through presence/store, holds a closed connection's session
// for the disconnect grace (a reload must not flap), and renews this node's row.
// In memory it keeps only what it can rebuild or lose: its own sockets'
// sessions, heartbeat times not yet flushed, and grace timers.
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

/** How often pending heartbeats are written. */
const FLUSH_EVERY_MS = 1_000;

export class PresenceEngine {
  /** Sessions whose connection is open on this node, by session id. */
  private readonly live = new Map<string, LiveSession>();
  /** How many of those each agent has, so `hosts` is a lookup (the router asks on every roster change). */
  private readonly liveOfAgent = new Map<string, number>();
  /** Heartbeat times not yet written, by session id. */
  private pendingSeen = new Map<string, Date>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private nodeTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private started = false;
  /** Counters for benchmarks and metrics. */
  readonly stats = { heartbeats: 0, flushes: 0, flushedRows: 0 };

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
    },
  ) {}

  get nodeId(): string {
    return this.deps.nodeId;
  }

  get liveSessions(): number {
    return this.live.size;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { db, nodeId, nodeName, timing, log } = this.deps;
    const control = this.deps.controlDb ?? db;
    await registerNode(db, { id: nodeId, name: nodeName, pid: process.pid });
    this.nodeTimer = setInterval(() => {
      touchNode(control, { id: nodeId, stats: this.deps.reportStats?.() }).catch((error: unknown) => log.error('renewing the node row failed', { error }));
    }, timing.NODE_HEARTBEAT_MS);
    this.nodeTimer.unref();
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.flushTimer.unref();
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
    this.flushing = flushLastSeen(this.deps.controlDb ?? this.deps.db, entries)
      .then(async (updated) => {
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
        // Keep the times for the next flush, unless newer ones arrived meanwhile.
        for (const [id, at] of batch) if (!this.pendingSeen.has(id)) this.pendingSeen.set(id, at);
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
    this.cancelGrace(handle.sessionId);
    const timer = setTimeout(() => {
      this.graceTimers.delete(handle.sessionId);
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
