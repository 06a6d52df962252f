// What a webhook delivery carries: the JSON body and the headers, built from
// one ticket event. Pure: the caller supplies the time of the attempt.
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './signature';

export type TicketState = 'queued' | 'offered' | 'assigned' | 'completed' | 'cancelled';

/** One ticket event as the outbox holds it. */
export type OutboxEvent = {
  eventId: number;
  ticketId: string;
  externalId: string;
  queueId: string;
  type: string;
  state: TicketState;
  agentId: string | null;
  reason: string | null;
  at: string;
};

export type WebhookPayload = {
  /** The same for every attempt at this event: drop duplicates by it. */
  deliveryId: string;
  /** Grows with every event; per ticket, deliveries arrive in this order. */
  eventId: number;
  type: string;
  /** The ticket as this event left it. */
  ticket: {
    id: string;
    externalId: string;
    queueId: string;
    state: TicketState;
    /** The agent it is offered to or held by after this event (offered and assigned only). */
    agentId: string | null;
  };
  /** The agent the event concerns: offered to, declined or completed by…; null when none. */
  agentId: string | null;
  reason: string | null;
  /** When the event happened (ISO time). */
  at: string;
};

export function webhookPayload(event: OutboxEvent, deliveryId: string): WebhookPayload {
  const holds = event.state === 'offered' || event.state === 'assigned';
  return {
    deliveryId,
    eventId: event.eventId,
    type: event.type,
    ticket: {
      id: event.ticketId,
      externalId: event.externalId,
      queueId: event.queueId,
      state: event.state,
      agentId: holds ? event.agentId : null,
    },
    agentId: event.agentId,
    reason: event.reason,
    at: event.at,
  };
}

/** The body and headers of one attempt, signed at `nowSec` (unix seconds). */
export function signedRequest(params: { payload: WebhookPayload; secret: string; nowSec: number }): {
  body: string;
  headers: Record<string, string>;
} {
  const body = JSON.stringify(params.payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Switchboard-Webhooks/1',
      [DELIVERY_HEADER]: params.payload.deliveryId,
      [EVENT_HEADER]: params.payload.type,
      [TIMESTAMP_HEADER]: String(params.nowSec),
      [SIGNATURE_HEADER]: signWebhook(params.secret, params.nowSec, body),
    },
  };
}
