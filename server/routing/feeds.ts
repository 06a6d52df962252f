// Live views of routing: an integration's ticket feed (resumable by event id,
// like the roster), an agent's open work, and queue statistics for the roster.
import type { Db } from '../../db/client';
import { openTicketsOf, queueStats, ticketEventsAfter, ticketLogSpan, type QueueStats, type TicketDelta, type TicketSummary } from '../../db/queries/tickets';
import type { Hub } from '../realtime/hub';
import { Mailbox } from '../realtime/mailbox';

export type TicketFeedEvent = { type: 'ticket'; event: TicketDelta } | { type: 'resync'; eventId: number };

const REPLAY_PAGE = 1_000;
export const TICKET_RESUME_LIMIT = 100_000;

/**
 * The integration's ticket events after `lastEventId`, once each and in order,
 * then live. Without `lastEventId` it starts now. When the resume point is
 * gone from the log (or unknown), the first event is `resync`: re-read state
 * with tickets.list, then carry on from its event id.
 */
export async function* watchTicketEvents(
  deps: { db: Db; hub: Hub },
  params: { integrationId: string; lastEventId?: number; signal: AbortSignal },
): AsyncGenerator<TicketFeedEvent> {
  const mailbox = new Mailbox<TicketDelta>(params.signal, { limit: 50_000 });
  const unsubscribe = deps.hub.tickets.subscribe((d) => {
    if (d.integrationId === params.integrationId) mailbox.push(d);
  });
  try {
    const span = await ticketLogSpan(deps.db);
    let cursor = span.latest;
    const from = params.lastEventId;
    if (from !== undefined) {
      if (from >= span.oldest - 1 && from <= span.latest && span.latest - from <= TICKET_RESUME_LIMIT) {
        cursor = from;
        for (;;) {
          const page = await ticketEventsAfter(deps.db, { afterId: cursor, limit: REPLAY_PAGE, integrationId: params.integrationId });
          for (const event of page) {
            cursor = event.eventId;
            yield { type: 'ticket', event };
          }
          if (page.length < REPLAY_PAGE) break;
        }
        cursor = Math.max(cursor, span.latest);
      } else {
        yield { type: 'resync', eventId: span.latest };
      }
    }
    for await (const event of mailbox) {
      if (event.eventId <= cursor) continue;
      cursor = event.eventId;
      yield { type: 'ticket', event };
    }
  } finally {
    unsubscribe();
  }
}

/** Waits for a ping, letting several that arrive meanwhile count as one. */
function pinger(signal: AbortSignal) {
  let wake: (() => void) | undefined;
  let pending = true; // the first read happens at once
  signal.addEventListener('abort', () => wake?.(), { once: true });
  return {
    ping: () => {
      pending = true;
      wake?.();
    },
    async next(): Promise<boolean> {
      while (!pending && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
      pending = false;
      return !signal.aborted;
    },
  };
}

const OPEN_STATES: ReadonlySet<string> = new Set(['offered', 'assigned']);

/** The order openTicketsOf gives: held tickets before offers (the enum's order, descending), then oldest first. */
function byOpenOrder(a: TicketSummary, b: TicketSummary): number {
  if (a.state !== b.state) return a.state === 'assigned' ? -1 : 1;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * An agent's open work kept from the ticket feed: an acceptance or a ticket
 * leaving the agent is applied from its event; a ticket arriving (an offer)
 * needs its subject and the rest, so it asks for a read of the whole list.
 * Events carry the ticket's version, so an event older than the row read is
 * ignored; events that arrive while a read is in flight are held and applied
 * on top of it (the read may or may not include them).
 */
export class OpenWork {
  private readonly open = new Map<string, TicketSummary>();
  private held: TicketDelta[] | undefined;
  private heldOverflowed = false;
  /** The list must be read again before the next view. */
  stale = true;

  constructor(
    private readonly agentId: string,
    /**
     * Events held during one read, at most (every ticket event of the
     * cluster arrives here). Past it they are dropped and the list is read
     * again: that read sees what the dropped events did.
     */
    private readonly holdLimit = 10_000,
  ) {}

  /**
   * Whether the event changed the view (then a new view is due). During a read
   * it is held, and the view that follows the read includes it.
   */
  offer(event: TicketDelta): boolean {
    if (this.held) {
      if (this.held.length < this.holdLimit) this.held.push(event);
      else this.heldOverflowed = true;
      return false;
    }
    return this.apply(event);
  }

  /** Replaces the list with a read, then re-applies what arrived while it was made. */
  async read(fetch: () => Promise<TicketSummary[]>): Promise<void> {
    this.stale = false;
    this.heldOverflowed = false;
    const held: TicketDelta[] = (this.held = []);
    let rows: TicketSummary[];
    try {
      rows = await fetch();
    } finally {
      this.held = undefined;
    }
    this.open.clear();
    for (const row of rows) this.open.set(row.id, row);
    for (const event of held) this.apply(event);
    if (this.heldOverflowed) this.stale = true;
  }

  view(): TicketSummary[] {
    return [...this.open.values()].sort(byOpenOrder);
  }

  private apply(event: TicketDelta): boolean {
    const known = this.open.get(event.ticketId);
    if (!known) {
      if (event.agentId !== this.agentId || !OPEN_STATES.has(event.state)) return false;
      this.stale = true;
      return true;
    }
    if (event.version <= known.version) return false;
    if (event.agentId !== this.agentId || !OPEN_STATES.has(event.state)) {
      this.open.delete(event.ticketId);
    } else if (event.type === 'accepted') {
      this.open.set(event.ticketId, { ...known, state: 'assigned', acceptedAt: event.at, offerExpiresAt: null, version: event.version });
    } else {
      this.stale = true;
    }
    return true;
  }
}

/** An agent's offers and held tickets: now, then after every change to any of them. */
export async function* watchWork(
  deps: { db: Db; hub: Hub },
  params: { agentId: string; signal: AbortSignal },
): AsyncGenerator<{ tickets: TicketSummary[] }> {
  const work = new OpenWork(params.agentId);
  const changes = pinger(params.signal);
  const unsubscribe = deps.hub.tickets.subscribe((d) => {
    if (work.offer(d)) changes.ping();
  });
  try {
    while (await changes.next()) {
      if (work.stale) await work.read(() => openTicketsOf(deps.db, params));
      if (work.stale) changes.ping(); // an offer arrived during the read
      yield { tickets: work.view() };
    }
  } finally {
    unsubscribe();
  }
}

/** Statistics of the given queues: now, then at most every `everyMs` while tickets or agents change. */
export async function* watchQueueStats(
  deps: { db: Db; hub: Hub },
  params: { queueIds: string[] | undefined; everyMs: number; signal: AbortSignal },
): AsyncGenerator<{ queues: QueueStats[] }> {
  const changes = pinger(params.signal);
  const unsubscribe = [deps.hub.tickets.subscribe(() => changes.ping()), deps.hub.presence.subscribe(() => changes.ping())];
  // Waiting times grow while nothing happens: refresh at least every few seconds.
  const tick = setInterval(() => changes.ping(), 5_000);
  try {
    while (await changes.next()) {
      yield { queues: await queueStats(deps.db, { queueIds: params.queueIds }) };
      await new Promise((resolve) => setTimeout(resolve, params.everyMs));
    }
  } finally {
    clearInterval(tick);
    for (const u of unsubscribe) u();
  }
}
