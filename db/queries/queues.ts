// Writes of routing configuration: queues, agent skills, capacity overrides.
import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { agentRouting, agentSkills, queues, type Capacity } from '../schema';

export async function insertQueue(
  db: DbOrTx,
  params: {
    name: string;
    teamId: string;
    strategy?: 'least_loaded' | 'round_robin';
    offerMode?: 'offer' | 'auto_accept';
    capacity?: Capacity;
  },
): Promise<{ id: string }> {
  const [row] = await db.insert(queues).values(params).returning({ id: queues.id });
  if (!row) throw new Error('queue insert returned nothing');
  return row;
}

/** Replaces an agent's skills. */
export async function setSkills(db: DbOrTx, params: { agentId: string; skills: string[] }): Promise<void> {
  await db.delete(agentSkills).where(eq(agentSkills.agentId, params.agentId));
  if (params.skills.length) {
    await db.insert(agentSkills).values([...new Set(params.skills)].map((skill) => ({ agentId: params.agentId, skill })));
  }
}

/** Sets an agent's per-channel capacity overrides (channels left out use the queue's default). */
export async function setCapacity(db: DbOrTx, params: { agentId: string; capacity: Partial<Capacity> }): Promise<void> {
  await db
    .insert(agentRouting)
    .values({ agentId: params.agentId, capacity: params.capacity })
    .onConflictDoUpdate({ target: agentRouting.agentId, set: { capacity: sql`excluded.capacity` } });
}
