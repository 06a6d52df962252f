// system.*: the running nodes and their counters, for operators (admins).
import { liveNodes } from '../../../db/queries/nodes';
import { adminProcedure, router } from '../init';

export const systemRouter = router({
  /** Every live node with its counters; the answering node's are read now, the others' are at most a node heartbeat old. */
  nodes: adminProcedure.query(async ({ ctx }) => {
    const { db, env, engine } = ctx.services;
    const rows = await liveNodes(db, { nodeTimeoutMs: env.NODE_TIMEOUT_MS });
    return rows.map((row) => (row.id === engine.nodeId ? { ...row, self: true, stats: ctx.services.stats() } : { ...row, self: false }));
  }),
});
