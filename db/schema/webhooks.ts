// Webhooks: at most one per integration, the per-ticket delivery cursors, and
// the delivery log (one row per attempt). The ticket_events table is the
// outbox: nothing is copied out of it; a cursor says how far each ticket's
// events have been delivered.
// Invariants: a ticket's events are delivered in id order, each at least once;
// a cursor only moves forward, by compare-and-set on its previous value; events
// with ids up to `start_event_id` are never delivered (they predate the webhook
// or its last enabling).
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, pgEnum, pgTable, primaryKey, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { integrations, ticketEventType, tickets } from './routing';

export const webhooks = pgTable('webhooks', {
  id: uuid().primaryKey().default(sql`gen_random_uuid()`),
  integrationId: uuid()
    .notNull()
    .unique()
    .references(() => integrations.id, { onDelete: 'cascade' }),
  /** Where events are POSTed (http or https). */
  url: text().notNull(),
  /** The HMAC-SHA256 key signing every delivery; shown once, at creation or rotation. */
  secret: text().notNull(),
  enabled: boolean().notNull().default(true),
  /** Events up to this id are not delivered: set to the latest event at creation and at every re-enabling. */
  startEventId: bigint({ mode: 'number' }).notNull(),
  /** The safety net has queued delivery for every ticket with undelivered events up to this id. */
  relayedEventId: bigint({ mode: 'number' }).notNull(),
  secretRotatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** How far one ticket's events have been delivered to one webhook. */
export const webhookCursors = pgTable(
  'webhook_cursors',
  {
    webhookId: uuid()
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    ticketId: uuid()
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    /** The last event delivered (0: none yet). */
    deliveredEventId: bigint({ mode: 'number' }).notNull().default(0),
    /** Failed attempts in a row at the next event; 0 when the last attempt succeeded. */
    failures: integer().notNull().default(0),
    lastAttemptAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.webhookId, t.ticketId] }),
    index('webhook_cursors_failing_idx').on(t.webhookId, t.lastAttemptAt).where(sql`${t.failures} > 0`),
  ],
);

export const webhookDeliveryStatus = pgEnum('webhook_delivery_status', ['delivered', 'failed']);

/** The delivery log: one row per attempt to POST one event. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    webhookId: uuid()
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    eventId: bigint({ mode: 'number' }).notNull(),
    eventType: ticketEventType().notNull(),
    ticketId: uuid().notNull(),
    /** Sent as x-switchboard-delivery; the same for every attempt at the same event. */
    deliveryId: uuid().notNull(),
    /** 1 for the first attempt at this event, 2 for its first retry… */
    attempt: integer().notNull(),
    status: webhookDeliveryStatus().notNull(),
    /** The receiver's HTTP status; null when no response came (timeout, refused, DNS…). */
    httpStatus: smallint(),
    /** Why it failed, at most 500 characters: the error, or the start of the response body. */
    error: text(),
    durationMs: integer().notNull(),
    startedAt: timestamp({ withTimezone: true }).notNull(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.webhookId, t.id), index().on(t.at)],
);
