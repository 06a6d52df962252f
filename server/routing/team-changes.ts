// The notice that a team's agents changed: someone joined or left, or an
// agent's skills or capacity overrides were set. Every node's routing keeps
// its teams in memory (team-cache.ts) and re-reads those facts only every few
// seconds; this notice, sent in the transaction of the change, makes each node
// read the named teams again before its next claim on them and route their
// queues at once (a ticket waiting for a skill just given goes now, not at the
// next sweep).
import type { DbOrTx } from '../../db/client';
import { chunks, controlChannel } from '../realtime/channels';

/** Announces (on commit) that the agents of `teamIds` changed; `agentIds`: whose teams may have changed. */
export async function announceTeamChange(db: DbOrTx, params: { teamIds: readonly string[]; agentIds?: readonly string[] }): Promise<void> {
  const teamIds = [...new Set(params.teamIds)];
  const agentIds = [...new Set(params.agentIds ?? [])];
  if (!teamIds.length && !agentIds.length) return;
  const teamParts = chunks(teamIds, 50);
  const agentParts = chunks(agentIds, 50);
  for (let i = 0; i < Math.max(teamParts.length, agentParts.length); i++) {
    await db.execute(controlChannel.notify({ k: 'teams', t: teamParts[i] ?? [], a: agentParts[i] ?? [] }));
  }
}
