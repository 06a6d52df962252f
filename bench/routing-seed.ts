// The routing benchmark's workspace, on a fresh database: the presence
// benchmark's agents (one team, "Bench", each agent with a browser sign-in
// whose cookie token its client presents; bulk SQL), one queue of that team
// (least_loaded, offers, the given per-channel capacity for every agent), and
// an integration's API key that creates the tickets. The queue and the key are
// made with the product's own functions.
import { createDb, createSql } from '../db/client';
import { insertQueue } from '../db/queries/queues';
import type { Capacity } from '../db/schema';
import { createApiKey } from '../server/auth/api-keys';
import { seedAgents } from './presence-seed';

export const QUEUE_NAME = 'Bench chat';

export type RoutingWorkspace = {
  /** One sign-in token per agent, in the order of their number. */
  tokens: string[];
  /** `Authorization: Bearer <apiKey>` creates tickets. */
  apiKey: string;
  queueId: string;
};

export async function seedRouting(url: string, params: { agents: number; capacity: Capacity }): Promise<RoutingWorkspace> {
  const tokens = await seedAgents(url, params.agents);
  const sql = createSql(url, { max: 1 });
  try {
    const db = createDb(sql);
    const [team] = await sql<{ id: string }[]>`select id from teams where name = 'Bench'`;
    if (!team) throw new Error('the Bench team was not seeded');
    const queue = await insertQueue(db, {
      name: QUEUE_NAME,
      teamId: team.id,
      strategy: 'least_loaded',
      offerMode: 'offer',
      capacity: params.capacity,
    });
    const { key } = await createApiKey(db, { integration: 'Bench desk', name: 'routing benchmark', scopes: ['tickets:write', 'tickets:read'] });
    return { tokens, apiKey: key, queueId: queue.id };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
