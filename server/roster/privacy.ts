// An agent's privacy choice: hiding their exact last-seen time (and since when
// they have their status) from teammates and integrations, who then see the
// day only (server/roster/visibility.ts). Supervisors and admins still see it exact.
//
// The choice reaches every live view at once, by the same road as a status
// change: it is written in the transaction that records a presence event for
// the agent (the row unchanged, the version + 1), so every node's hub reads the
// agent's row again and each teammate's view sends it, projected anew. A view
// resuming from before the change replays it too; no snapshot is forced.
import type { Db } from '../../db/client';
import { hideLastSeenOf, setHideLastSeen } from '../../db/queries/roster';
import { changeAgent, NotAnAgentError } from '../presence/store';

export async function setPrivacy(
  deps: { db: Db },
  params: { agentId: string; hideLastSeen: boolean },
): Promise<{ hideLastSeen: boolean; changed: boolean }> {
  const { db } = deps;
  const { agentId, hideLastSeen } = params;
  const current = await hideLastSeenOf(db, { userId: agentId });
  if (current === undefined) throw new NotAnAgentError(agentId);
  // Choosing again what is already chosen changes nothing and tells no one.
  if (current === hideLastSeen) return { hideLastSeen, changed: false };
  await changeAgent(db, {
    agentId,
    change: (tx) => setHideLastSeen(tx, { userId: agentId, hide: hideLastSeen }),
    // Record the event although the presence row itself is unchanged: the roster row, which carries the choice, is not.
    loadChanged: true,
  });
  return { hideLastSeen, changed: true };
}
