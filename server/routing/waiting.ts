// Which queues have tickets waiting, as the ticket feed tells a node. A claim
// on a queue with nothing queued finds nothing, yet costs a transaction and a
// ranking of the team: capacity frees after almost every ticket, and on a desk
// that keeps up nothing waits then. Knowing the queue is empty lets the router
// skip that claim. The feed is complete and in commit order (the hub reads
// from its cursor after a lost LISTEN), so the set is exact as of the last
// event delivered; the router's sweep claims every queue the database shows
// waiting whatever this says, as the safety net.
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import type { TicketDelta } from '../../db/queries/tickets';

export class WaitingTickets {
  private readonly byQueue = new Map<string, Set<string>>();
  /** Feed events seen before the start read answered; undefined once it has. */
  private early: TicketDelta[] | undefined = [];

  /** Reads what waits now, with the last event id of the same snapshot; feed events up to that id are already in it. */
  async load(db: Db): Promise<void> {
    const [row] = await db.execute<{ latest: string; waiting: Array<{ id: string; queue_id: string }> }>(sql`
      select (select coalesce(max(id), 0) from ticket_events) as latest,
             coalesce((select json_agg(json_build_object('id', id, 'queue_id', queue_id)) from tickets where state = 'queued'), '[]') as waiting`);
    const latest = Number(row?.latest ?? 0);
    for (const t of row?.waiting ?? []) this.add(t.queue_id, t.id);
    const early = this.early ?? [];
    this.early = undefined;
    for (const delta of early) if (delta.eventId > latest) this.apply(delta);
  }

  /** A ticket event from the feed: a ticket waits while its latest event leaves it queued. */
  apply(delta: TicketDelta): void {
    if (this.early) {
      this.early.push(delta);
      return;
    }
    if (delta.state === 'queued') this.add(delta.queueId, delta.ticketId);
    else this.byQueue.get(delta.queueId)?.delete(delta.ticketId);
  }

  /** Whether a ticket may wait in the queue (always, before the start read answered). */
  mayWait(queueId: string): boolean {
    return this.early !== undefined || (this.byQueue.get(queueId)?.size ?? 0) > 0;
  }

  private add(queueId: string, ticketId: string): void {
    let set = this.byQueue.get(queueId);
    if (!set) this.byQueue.set(queueId, (set = new Set()));
    set.add(ticketId);
  }
}
