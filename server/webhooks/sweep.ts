// The webhook safety net. The live path (every node queues a delivery job
// when its hub sees a ticket event) misses events committed while no node was
// tailing the log, or whose job could not be queued; and a ticket whose
// retries ran out has no job left. The sweep finds both: it relays each
// webhook's events after a durable mark (ids commit in order, so nothing
// slips behind the mark) and queues the tickets still behind, then re-queues
// failing tickets with no attempt for longer than the longest retry delay.
// Idempotent, so every node may run it: jobs collapse on the ticket's key.
import type { Db } from '../../db/client';
import { markRelayed, pruneDeliveries, relayedWebhooks, relayScan, staleFailures } from './store';

/** Events read per page of the relay. */
const RELAY_PAGE = 1_000;
/** Failing tickets re-queued per sweep. */
const STALE_BATCH = 500;
/** How long the delivery log keeps an attempt. */
export const DELIVERY_LOG_DAYS = 30;

export type SweepResult = { relayed: string[]; stale: string[]; pruned: number };

export async function sweepWebhooks(
  deps: { db: Db; enqueue: (ticketIds: string[]) => Promise<void> },
  params: {
    /** Events younger than this are left to the live path. */
    relayLagMs: number;
    /** A failing ticket with no attempt for this long has no retry left: queue it again. */
    staleAfterMs: number;
  },
): Promise<SweepResult> {
  const { db, enqueue } = deps;
  const relayed: string[] = [];
  for (const webhook of await relayedWebhooks(db)) {
    let afterId = webhook.relayedEventId;
    for (;;) {
      const scan = await relayScan(db, { webhook, afterId, lagMs: params.relayLagMs, limit: RELAY_PAGE });
      if (scan.ticketIds.length) await enqueue(scan.ticketIds);
      relayed.push(...scan.ticketIds);
      if (scan.through === undefined) break;
      // Marked only once the jobs are queued: a sweep that dies in between relays the span again.
      await markRelayed(db, { webhookId: webhook.id, through: scan.through });
      afterId = scan.through;
      if (!scan.full) break;
    }
  }
  const stale = await staleFailures(db, { afterMs: params.staleAfterMs, limit: STALE_BATCH });
  if (stale.length) await enqueue(stale);
  const pruned = await pruneDeliveries(db, { days: DELIVERY_LOG_DAYS, limit: 10_000 });
  return { relayed, stale, pruned };
}
