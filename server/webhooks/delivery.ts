// Delivers one ticket's pending events to its integration's webhook, in id
// order, and stops at the first failure (throwing, so that pg-boss retries the
// job with backoff). What is pending is read from the outbox (ticket_events)
// after the ticket's cursor each time, so a run that died half-way, a
// duplicate job or a lost one changes nothing: the next run starts where the
// cursor stands and the event in flight is sent again, with the same delivery
// id (at least once).
import type { Db } from '../../db/client';
import type { Logger } from '../log';
import { signedRequest, webhookPayload } from './payload';
import { postWebhook } from './post';
import { webhookDeliveryId } from './signature';
import { deliveryTarget, pendingEvents, recordAttempt } from './store';

/** An attempt failed; the job fails with it and pg-boss retries it later. */
export class WebhookDeliveryError extends Error {
  override name = 'WebhookDeliveryError';
}

export type DeliveryRun = {
  /** Events delivered by this run. */
  delivered: number;
  /** More events were pending than one run delivers: queue another run. */
  more: boolean;
};

export async function deliverTicket(
  deps: { db: Db; log: Logger },
  params: {
    ticketId: string;
    timeoutMs: number;
    /** Most events one run delivers (a run must end well within its job's expiry). */
    maxEvents: number;
    /** Whether a retry of an earlier failure is already scheduled for this ticket; asked only while failing. */
    retryScheduled: () => Promise<boolean>;
    /** The node is stopping: end after the attempt in flight, leaving the rest to another run. */
    stopping: () => boolean;
    /** Aborts the attempt in flight (pg-boss: the job expired, or the node could not wait for it). */
    signal?: AbortSignal;
  },
): Promise<DeliveryRun> {
  const { db, log } = deps;
  const idle: DeliveryRun = { delivered: 0, more: false };
  const target = await deliveryTarget(db, params);
  if (!target) return idle; // no enabled webhook
  // A new event while the ticket is failing: leave it to the scheduled retry, which keeps its backoff.
  if (target.failures > 0 && (await params.retryScheduled())) return idle;
  const events = await pendingEvents(db, {
    ticketId: params.ticketId,
    afterId: Math.max(target.deliveredEventId, target.startEventId),
    limit: params.maxEvents + 1,
  });
  let cursor = target.deliveredEventId;
  let failures = target.failures;
  let delivered = 0;
  for (const event of events.slice(0, params.maxEvents)) {
    if (params.stopping()) return { delivered, more: true };
    const deliveryId = webhookDeliveryId(target.webhookId, event.eventId);
    const request = signedRequest({ payload: webhookPayload(event, deliveryId), secret: target.secret, nowSec: Math.floor(Date.now() / 1000) });
    const result = await postWebhook({ url: target.url, ...request, timeoutMs: params.timeoutMs, signal: params.signal });
    const ours = await recordAttempt(db, {
      webhookId: target.webhookId,
      ticketId: params.ticketId,
      previousEventId: cursor,
      eventId: event.eventId,
      eventType: event.type,
      deliveryId,
      attempt: failures + 1,
      result,
    });
    if (!ours) {
      log.warn('webhook cursor moved by another deliverer; stopping', { webhookId: target.webhookId, ticketId: params.ticketId, eventId: event.eventId });
      return { delivered, more: false };
    }
    if (!result.ok) {
      throw new WebhookDeliveryError(`event ${event.eventId} of ticket ${params.ticketId} (attempt ${failures + 1}): ${result.error}`);
    }
    cursor = event.eventId;
    failures = 0;
    delivered += 1;
  }
  return { delivered, more: events.length > params.maxEvents };
}
