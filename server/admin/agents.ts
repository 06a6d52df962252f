// Admin work on what routing knows of an agent: skills and per-channel
// capacity overrides. Each change commits with its audit row and the notice
// that makes every node's routing read the agent's teams again and route their
// queues (a ticket waiting for a skill just given is offered at once).
import type { Db, DbOrTx } from '../../db/client';
import { lockCapacity, lockSkills, lockUser } from '../../db/queries/admin';
import { membershipTeamIds } from '../../db/queries/people';
import { setCapacity, setSkills } from '../../db/queries/queues';
import { CHANNELS, type Capacity } from '../../db/schema';
import { recordAudit, type AuditBy } from '../audit/log';
import { announceTeamChange } from '../routing/team-changes';
import { AdminNotFoundError } from './errors';

/**
 * The agent, locked: two changes of one agent's skills (or capacity) take
 * turns, even when there is no skill row yet to lock (they would both insert).
 */
async function agentOf(db: DbOrTx, agentId: string) {
  const user = await lockUser(db, { id: agentId });
  if (!user || user.role !== 'agent') throw new AdminNotFoundError('agentId: no such agent');
  return user;
}

/** The channels set, in a fixed order: what is stored and compared. */
function inOrder(capacity: Partial<Capacity>): Partial<Capacity> {
  const out: Partial<Capacity> = {};
  for (const channel of CHANNELS) if (capacity[channel] !== undefined) out[channel] = capacity[channel];
  return out;
}

/** Replaces an agent's skills; returns them as stored (distinct, sorted). */
export async function setAgentSkills(
  db: Db,
  by: AuditBy,
  input: { agentId: string; skills: string[] },
): Promise<{ agentId: string; skills: string[] }> {
  const skills = [...new Set(input.skills)].sort();
  return db.transaction(async (tx) => {
    const agent = await agentOf(tx, input.agentId);
    const before = await lockSkills(tx, { agentId: agent.id });
    if (before.join('\n') !== skills.join('\n')) {
      await setSkills(tx, { agentId: agent.id, skills });
      await recordAudit(tx, { ...by, action: 'skills.set', targetType: 'agent', targetId: agent.id, details: { email: agent.email, skills, before } });
      await announceTeamChange(tx, { teamIds: await membershipTeamIds(tx, { userId: agent.id, role: 'agent' }) });
    }
    return { agentId: agent.id, skills };
  });
}

/** Replaces an agent's capacity overrides (a channel left out uses each queue's default). */
export async function setAgentCapacity(
  db: Db,
  by: AuditBy,
  input: { agentId: string; capacity: Partial<Capacity> },
): Promise<{ agentId: string; capacity: Partial<Capacity> }> {
  const capacity = inOrder(input.capacity);
  return db.transaction(async (tx) => {
    const agent = await agentOf(tx, input.agentId);
    const before = inOrder(await lockCapacity(tx, { agentId: agent.id }));
    if (JSON.stringify(before) !== JSON.stringify(capacity)) {
      await setCapacity(tx, { agentId: agent.id, capacity });
      await recordAudit(tx, { ...by, action: 'capacity.set', targetType: 'agent', targetId: agent.id, details: { email: agent.email, capacity, before } });
      await announceTeamChange(tx, { teamIds: await membershipTeamIds(tx, { userId: agent.id, role: 'agent' }) });
    }
    return { agentId: agent.id, capacity };
  });
}
