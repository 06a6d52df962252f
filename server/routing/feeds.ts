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

/** An agent's offers and held tickets: now, then after every change to any of them. */
export async function* watchWork(
  deps: { db: Db; hub: Hub },
  params: { agentId: string; signal: AbortSignal },
): AsyncGenerator<{ tickets: TicketSummary[] }> {
  const mine = new Set<string>();
  const changes = pinger(params.signal);
  const unsubscribe = deps.hub.tickets.subscribe((d) => {
    if (d.agentId === params.agentId || mine.has(d.ticketId)) changes.ping();
  });
  try {
    while (await changes.next()) {
      const tickets = await openTicketsOf(deps.db, params);
      mine.clear();
      for (const t of tickets) mine.add(t.id);
      yield { tickets };
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
