// The nodes table: each server process registers a row and renews it; a row
// that stops being renewed marks a dead node whose sessions must end.
import { and, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { nodes } from '../schema';

/**
 * Registers this process. Rows of an earlier process with the same name (a
 * restart of this node) are marked stopped, so their sessions end after the
 * disconnect grace unless their clients reconnect first.
 */
export async function registerNode(db: DbOrTx, params: { id: string; name: string; pid: number }): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(nodes)
      .set({ stoppedAt: sql`now()` })
      .where(and(eq(nodes.name, params.name), ne(nodes.id, params.id), isNull(nodes.stoppedAt)));
    await tx.insert(nodes).values(params);
  });
}

export async function touchNode(db: DbOrTx, params: { id: string; stats?: Record<string, number> }): Promise<void> {
  await db
    .update(nodes)
    .set({ lastSeenAt: sql`now()`, ...(params.stats ? { stats: params.stats } : {}) })
    .where(eq(nodes.id, params.id));
}

export type NodeRow = {
  id: string;
  name: string;
  pid: number;
  startedAt: string;
  lastSeenAt: string;
  stats: Record<string, number> | null;
};

/** Nodes running now: not stopped, and renewed within the node timeout. */
export async function liveNodes(db: DbOrTx, params: { nodeTimeoutMs: number }): Promise<NodeRow[]> {
  const rows = await db
    .select()
    .from(nodes)
    .where(and(isNull(nodes.stoppedAt), gt(nodes.lastSeenAt, sql`now() - make_interval(secs => ${params.nodeTimeoutMs / 1000})`)))
    .orderBy(nodes.name, nodes.startedAt);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    pid: r.pid,
    startedAt: r.startedAt.toISOString(),
    lastSeenAt: r.lastSeenAt.toISOString(),
    stats: r.stats,
  }));
}

export async function markNodeStopped(db: DbOrTx, params: { id: string }): Promise<void> {
  await db.update(nodes).set({ stoppedAt: sql`now()` }).where(eq(nodes.id, params.id));
}
