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

export type NodeListing = NodeRow & { state: 'running' | 'stopped' | 'lost'; sessions: number };

/**
 * Nodes with their state and live device sessions, for the command line:
 * running ones, or (`all`) every node of the last day, newest first by name.
 */
export async function listNodes(db: DbOrTx, params: { nodeTimeoutMs: number; all: boolean }): Promise<NodeListing[]> {
  const rows = await db.execute<{
    id: string;
    name: string;
    pid: number;
    started_at: Date | string;
    last_seen_at: Date | string;
    stats: Record<string, number> | null;
    state: 'running' | 'stopped' | 'lost';
    sessions: number;
  }>(sql`
    select n.id, n.name, n.pid, n.started_at, n.last_seen_at, n.stats,
           case when n.stopped_at is not null then 'stopped'
                when n.last_seen_at < now() - make_interval(secs => ${params.nodeTimeoutMs / 1000}) then 'lost'
                else 'running' end as state,
           (select count(*)::int from device_sessions s where s.node_id = n.id and s.ended_at is null) as sessions
      from nodes n
     where ${params.all ? sql`n.last_seen_at > now() - interval '1 day'` : sql`n.stopped_at is null and n.last_seen_at > now() - make_interval(secs => ${params.nodeTimeoutMs / 1000})`}
     order by n.name, n.started_at`);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    pid: r.pid,
    startedAt: new Date(r.started_at).toISOString(),
    lastSeenAt: new Date(r.last_seen_at).toISOString(),
    stats: r.stats,
    state: r.state,
    sessions: r.sessions,
  }));
}
