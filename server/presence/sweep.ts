// The presence sweep, run by one node at a time (a pg-boss job): ends sessions
// whose lease ran out (`timeout`) and sessions of dead or stopped nodes
// (`node_lost`), tells their connections, and recomputes every affected agent —
// plus any agent whose stored row disagrees with its sessions (a write cut short).
import type { Db } from '../../db/client';
import type { Timing } from '../env';
import { agentsOutOfStep, changeAgent, endSessionsOfDeadNodes, endTimedOutSessions, notifyEnded } from './store';

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
  for (const agentId of agents) await changeAgent(db, { agentId });
  return { timedOut: timedOut.length, nodeLost: lost.length, agentsRecomputed: agents.size };
}
