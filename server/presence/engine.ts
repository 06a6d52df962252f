// The presence engine of one node: attaches device connections to sessions,
// holds a closed connection's session for the disconnect grace (a reload must
// not flap), renews this node's row and ends the sessions of dead nodes.
// In memory it keeps only what it can lose: grace timers of its own sockets.
// All truth is in Postgres; every change goes through presence/store.
import type { Db } from '../../db/client';
import { markNodeStopped, registerNode, touchNode } from '../../db/queries/nodes';
import type { Timing } from '../env';
import type { Logger } from '../log';
import type { Status } from './aggregate';
import { deviceLabel } from './device-label';
import {
  agentsOutOfStep,
  attachSession,
  changeAgent,
  endSession,
  endSessionsOfDeadNodes,
  type ChangeResult,
} from './store';

export type SessionHandle = { agentId: string; sessionId: string; generation: number };

export class PresenceEngine {
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private nodeTimer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    private readonly deps: { db: Db; nodeId: string; nodeName: string; timing: Timing; log: Logger },
  ) {}

  get nodeId(): string {
    return this.deps.nodeId;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { db, nodeId, nodeName, timing } = this.deps;
    await registerNode(db, { id: nodeId, name: nodeName, pid: process.pid });
    await this.maintain();
    this.nodeTimer = setInterval(() => void this.maintain(), timing.NODE_HEARTBEAT_MS);
    this.nodeTimer.unref();
  }

  /** Renews this node's row, ends sessions of dead nodes, and repairs interrupted writes. */
  async maintain(): Promise<void> {
    const { db, nodeId, timing, log } = this.deps;
    try {
      await touchNode(db, { id: nodeId });
      const lost = await endSessionsOfDeadNodes(db, {
        selfNodeId: nodeId,
        graceMs: timing.DISCONNECT_GRACE_MS,
        nodeTimeoutMs: timing.NODE_TIMEOUT_MS,
      });
      if (lost.length) log.info('ended sessions of dead nodes', { agents: lost.length });
      const stale = await agentsOutOfStep(db);
      for (const agentId of new Set([...lost, ...stale])) await changeAgent(db, { agentId });
    } catch (error) {
      log.error('presence maintenance failed', { error });
    }
  }

  /** A device connection opened: attach it to its session (new, or one in its grace). */
  async connect(params: {
    agentId: string;
    deviceId: string;
    clientSessionId: string;
    userAgent?: string;
  }): Promise<SessionHandle & { change: ChangeResult }> {
    const attached = await attachSession(this.deps.db, {
      agentId: params.agentId,
      deviceId: params.deviceId,
      clientSessionId: params.clientSessionId,
      nodeId: this.deps.nodeId,
      label: deviceLabel(params.userAgent),
    });
    this.cancelGrace(attached.sessionId);
    return { agentId: params.agentId, ...attached };
  }

  /** A device connection closed: end its session once the grace has passed, unless it reattaches. */
  disconnect(handle: SessionHandle): void {
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

  setStatus(params: { agentId: string; status: Status }): Promise<ChangeResult> {
    return changeAgent(this.deps.db, {
      agentId: params.agentId,
      manual: { status: params.status, reason: 'manual' },
    });
  }

  /**
   * Stops timers and marks the node stopped. Sessions in their grace are left
   * to the other nodes (or this node's next start), which end them once the
   * grace has passed unless their clients reconnect elsewhere first.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.nodeTimer);
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
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
