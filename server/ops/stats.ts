// A node's own counters: what it holds now and what it has done since it
// started. Stored with each renewal of its nodes row (so `system.nodes` can
// show every node's) and read fresh for the node answering.
import type { PresenceEngine } from '../presence/engine';
import type { Hub } from '../realtime/hub';
import { deliveryStats } from '../realtime/mailbox';

export type NodeStats = {
  /** Open tRPC WebSockets. */
  connections: number;
  /** Device sessions whose socket is on this node. */
  liveSessions: number;
  /** Live subscriptions fed by the hub (rosters, team views, own views). */
  subscribers: number;
  /** Id of the last presence event the hub delivered. */
  hubLastEventId: number;
  heartbeats: number;
  flushes: number;
  /** Roster changes a slow reader never received because a newer row of the same agent replaced them. */
  deliveriesCoalesced: number;
  /** Subscriptions closed because they fell too far behind (their clients resume or re-read). */
  subscribersDropped: number;
  /** Roster and team messages written straight to sockets, in tRPC's format, instead of through tRPC. */
  framesWritten: number;
};

export function nodeStats(parts: { engine: PresenceEngine; hub: Hub; connections: () => number }): NodeStats {
  return {
    connections: parts.connections(),
    liveSessions: parts.engine.liveSessions,
    subscribers: parts.hub.subscribers,
    hubLastEventId: parts.hub.lastEventId,
    heartbeats: parts.engine.stats.heartbeats,
    flushes: parts.engine.stats.flushes,
    deliveriesCoalesced: deliveryStats.coalesced,
    subscribersDropped: deliveryStats.overflowed,
    framesWritten: deliveryStats.framesWritten,
  };
}
