// The presence sweep, run by one node at a time (a pg-boss job): ends sessions
// whose lease ran out (`timeout`) and sessions of dead or stopped nodes
// (`node_lost`), tells their connections, and recomputes every affected agent —
// plus any agent whose stored row disagrees with its sessions (a write cut short).
import type { Db } from '../../db/client';
import { chunks } from '../realtime/channels';
import type { Timing } from '../env';
import { agentsOutOfStep, changeAgents, endSessionsOfDeadNodes, endTimedOutSessions, notifyEnded } from './store';

const RECOMPUTE_BATCH = 200;

export type SweepResult = { timedOut: number; nodeLost: number; agentsRecomputed: number };

export async function sweepPresence(db: Db, timing: Timing): Promise<SweepResult> {
  const timedOut = await endTimedOutSessions(db, { ttlMs: timing.SESSION_TTL_MS });
  const lost = await endSessionsOfDeadNodes(db, {
    graceMs: timing.DISCONNECT_GRACE_MS,
    nodeTimeoutMs: timing.NODE_TIMEOUT_MS,
  });
  await notifyEnded(db, { sessionIds: timedOut.map((s) => s.sessionId), reason: 'timeout' });
  await notifyEnded(db, { sessionIds: lost.map((s) => s.sessionId), reason: 'node_lost' });
  const agents = new Set([...timedOut, ...lost].map((s) => s.agentId));
  for (const agentId of await agentsOutOfStep(db)) agents.add(agentId);
  // A lost node can take thousands of agents with it: recompute them in
  // transactions of RECOMPUTE_BATCH, each one notification.
  for (const batch of chunks([...agents], RECOMPUTE_BATCH)) await changeAgents(db, batch);
  return { timedOut: timedOut.length, nodeLost: lost.length, agentsRecomputed: agents.size };
}
