// Webhook reads and writes: the admin's settings and delivery log, and what
// delivery needs: a ticket's target and pending events, and recording each
// attempt. A cursor moves by compare-and-set on the value the deliverer read,
// so two deliverers of one ticket (a job that outlived its expiry) can never
// move it backwards or past an event neither delivered.
import { and, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../../db/client';
import { integrations, ticketEvents, webhookCursors, webhookDeliveries, webhooks } from '../../db/schema';
import { controlChannel } from '../realtime/channels';
import type { OutboxEvent, TicketState } from './payload';
import type { AttemptResult } from './post';
import { newWebhookSecret } from './signature';

type EventType = (typeof ticketEvents.$inferSelect)['type'];

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

// ---------------------------------------------------------------------------
// Settings (admins)

export type WebhookView = {
  id: string;
  integration: string;
  url: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  secretRotatedAt: string;
  /** Tickets whose next event is failing to deliver (being retried). */
  failingTickets: number;
};

async function integrationId(db: DbOrTx, name: string, options: { lock?: boolean } = {}): Promise<string | undefined> {
  const query = db.select({ id: integrations.id }).from(integrations).where(eq(integrations.name, name));
  // `no key update` serialises writers of the webhook without blocking tickets (their foreign key takes `key share`).
  const [row] = await (options.lock ? query.for('no key update') : query);
  return row?.id;
}

/** The id of the latest ticket event: a webhook delivers the events after it. */
async function latestEventId(db: DbOrTx): Promise<number> {
  const [row] = await db.execute<{ latest: string }>(sql`select coalesce(max(id), 0) as latest from ticket_events`);
  return Number(row?.latest ?? 0);
}

async function view(db: DbOrTx, params: { integrationId: string; integration: string }): Promise<WebhookView | null> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.integrationId, params.integrationId));
  if (!row) return null;
  const [failing] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(webhookCursors)
    .where(and(eq(webhookCursors.webhookId, row.id), gt(webhookCursors.failures, 0)));
  return {
    id: row.id,
    integration: params.integration,
    url: row.url,
    enabled: row.enabled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    secretRotatedAt: row.secretRotatedAt.toISOString(),
    failingTickets: failing?.n ?? 0,
  };
}

/**
 * Creates or updates an integration's webhook; undefined when there is no such
 * integration. The secret is returned only when made: at creation, or when
 * `rotateSecret` asks for a new one (which signs from the next attempt on).
 * Enabling a disabled webhook starts after the latest event: what happened
 * while it was off is not delivered.
 */
export async function setWebhook(
  db: Db,
  params: { integration: string; url: string; enabled?: boolean; rotateSecret?: boolean },
): Promise<{ webhook: WebhookView; created: boolean; secret?: string } | undefined> {
  return db.transaction(async (tx) => {
    const id = await integrationId(tx, params.integration, { lock: true });
    if (!id) return undefined;
    const [existing] = await tx.select().from(webhooks).where(eq(webhooks.integrationId, id));
    let secret: string | undefined;
    if (!existing) {
      secret = newWebhookSecret();
      const start = await latestEventId(tx);
      await tx
        .insert(webhooks)
        .values({ integrationId: id, url: params.url, secret, enabled: params.enabled ?? true, startEventId: start, relayedEventId: start });
    } else {
      const enabling = params.enabled === true && !existing.enabled;
      secret = params.rotateSecret ? newWebhookSecret() : undefined;
      const start = enabling ? await latestEventId(tx) : undefined;
      await tx
        .update(webhooks)
        .set({
          url: params.url,
          ...(params.enabled !== undefined ? { enabled: params.enabled } : {}),
          ...(start !== undefined ? { startEventId: start, relayedEventId: start } : {}),
          ...(secret ? { secret, secretRotatedAt: sql`now()` } : {}),
          updatedAt: sql`now()`,
        })
        .where(eq(webhooks.id, existing.id));
      // Failures from before it was disabled concern events it will not deliver.
      if (enabling) await tx.update(webhookCursors).set({ failures: 0 }).where(and(eq(webhookCursors.webhookId, existing.id), gt(webhookCursors.failures, 0)));
    }
    // Every node forgets which integrations have an enabled webhook (server/webhooks/dispatcher.ts).
    await tx.execute(controlChannel.notify({ k: 'webhooks' }));
    const webhook = await view(tx, { integrationId: id, integration: params.integration });
    if (!webhook) throw new Error('webhook vanished after its write');
    return { webhook, created: !existing, ...(secret ? { secret } : {}) };
  });
}

/** The integration's webhook (null: none); undefined when there is no such integration. */
export async function getWebhook(db: DbOrTx, params: { integration: string }): Promise<WebhookView | null | undefined> {
  const id = await integrationId(db, params.integration);
  return id ? view(db, { integrationId: id, integration: params.integration }) : undefined;
}

export type DeliveryView = {
  id: number;
  deliveryId: string;
  eventId: number;
  eventType: string;
  ticketId: string;
  attempt: number;
  status: 'delivered' | 'failed';
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  startedAt: string;
  at: string;
};

/** The delivery log of the integration's webhook, newest first, keyset-paged by `before` (a log id); undefined when there is no such integration. */
export async function listDeliveries(
  db: DbOrTx,
  params: { integration: string; limit: number; before?: number },
): Promise<DeliveryView[] | undefined> {
  const id = await integrationId(db, params.integration);
  if (!id) return undefined;
  const rows = await db
    .select({
      id: webhookDeliveries.id,
      deliveryId: webhookDeliveries.deliveryId,
      eventId: webhookDeliveries.eventId,
      eventType: webhookDeliveries.eventType,
      ticketId: webhookDeliveries.ticketId,
      attempt: webhookDeliveries.attempt,
      status: webhookDeliveries.status,
      httpStatus: webhookDeliveries.httpStatus,
      error: webhookDeliveries.error,
      durationMs: webhookDeliveries.durationMs,
      startedAt: webhookDeliveries.startedAt,
      at: webhookDeliveries.at,
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .where(and(eq(webhooks.integrationId, id), params.before === undefined ? undefined : lt(webhookDeliveries.id, params.before)))
    .orderBy(desc(webhookDeliveries.id))
    .limit(params.limit);
  return rows.map((r) => ({ ...r, startedAt: r.startedAt.toISOString(), at: r.at.toISOString() }));
}

// ---------------------------------------------------------------------------
// Delivery

export type DeliveryTarget = {
  webhookId: string;
  url: string;
  secret: string;
  startEventId: number;
  /** As stored (0: no cursor yet): the value a compare-and-set expects. */
  deliveredEventId: number;
  failures: number;
};

/** Where the ticket's events go: its integration's webhook, if enabled, with the ticket's cursor. */
export async function deliveryTarget(db: DbOrTx, params: { ticketId: string }): Promise<DeliveryTarget | undefined> {
  const [row] = await db.execute<{
    webhookId: string;
    url: string;
    secret: string;
    startEventId: string;
    deliveredEventId: string | null;
    failures: number | null;
  }>(sql`
    select w.id as "webhookId", w.url, w.secret, w.start_event_id as "startEventId",
           c.delivered_event_id as "deliveredEventId", c.failures
      from tickets k
      join webhooks w on w.integration_id = k.integration_id and w.enabled
      left join webhook_cursors c on c.webhook_id = w.id and c.ticket_id = k.id
     where k.id = ${params.ticketId}`);
  if (!row) return undefined;
  return {
    webhookId: row.webhookId,
    url: row.url,
    secret: row.secret,
    startEventId: Number(row.startEventId),
    deliveredEventId: Number(row.deliveredEventId ?? 0),
    failures: row.failures ?? 0,
  };
}

/** The ticket's events after `afterId`, in id order. */
export async function pendingEvents(db: DbOrTx, params: { ticketId: string; afterId: number; limit: number }): Promise<OutboxEvent[]> {
  const rows = await db.execute<Omit<OutboxEvent, 'eventId' | 'at'> & { eventId: string; at: Date | string }>(sql`
    select e.id as "eventId", e.ticket_id as "ticketId", k.external_id as "externalId", k.queue_id as "queueId",
           e.type, e.state, e.agent_id as "agentId", e.reason, e.at
      from ticket_events e join tickets k on k.id = e.ticket_id
     where e.ticket_id = ${params.ticketId} and e.id > ${params.afterId}
     order by e.id
     limit ${params.limit}`);
  return rows.map((r) => ({ ...r, state: r.state as TicketState, eventId: Number(r.eventId), at: iso(r.at)! }));
}

/**
 * Logs one attempt and, if the cursor still stands where the deliverer read
 * it, moves it past the event (success) or counts the failure. Returns false
 * when another deliverer moved the cursor meanwhile: the caller stops.
 */
export async function recordAttempt(
  db: Db,
  params: {
    webhookId: string;
    ticketId: string;
    /** The cursor as the deliverer read it. */
    previousEventId: number;
    eventId: number;
    eventType: string;
    deliveryId: string;
    attempt: number;
    result: AttemptResult;
  },
): Promise<boolean> {
  const { webhookId, ticketId, previousEventId, result } = params;
  return db.transaction(async (tx) => {
    await tx.insert(webhookDeliveries).values({
      webhookId,
      eventId: params.eventId,
      eventType: params.eventType as EventType,
      ticketId,
      deliveryId: params.deliveryId,
      attempt: params.attempt,
      status: result.ok ? 'delivered' : 'failed',
      httpStatus: result.httpStatus,
      error: result.error,
      durationMs: result.durationMs,
      startedAt: result.startedAt,
    });
    const moved = await tx
      .insert(webhookCursors)
      .values({
        webhookId,
        ticketId,
        deliveredEventId: result.ok ? params.eventId : previousEventId,
        failures: result.ok ? 0 : 1,
        lastAttemptAt: sql`now()`,
      })
      .onConflictDoUpdate({
        target: [webhookCursors.webhookId, webhookCursors.ticketId],
        set: result.ok
          ? { deliveredEventId: params.eventId, failures: 0, lastAttemptAt: sql`now()` }
          : { failures: sql`${webhookCursors.failures} + 1`, lastAttemptAt: sql`now()` },
        setWhere: eq(webhookCursors.deliveredEventId, previousEventId),
      })
      .returning({ ticketId: webhookCursors.ticketId });
    return moved.length > 0;
  });
}

// ---------------------------------------------------------------------------
// The safety net

/** Those of the integrations that have an enabled webhook. */
export async function withEnabledWebhook(db: DbOrTx, params: { integrationIds: string[] }): Promise<Set<string>> {
  if (params.integrationIds.length === 0) return new Set();
  const rows = await db
    .select({ id: webhooks.integrationId })
    .from(webhooks)
    .where(and(eq(webhooks.enabled, true), inArray(webhooks.integrationId, params.integrationIds)));
  return new Set(rows.map((r) => r.id));
}

export type RelayedWebhook = { id: string; integrationId: string; startEventId: number; relayedEventId: number };

/** Enabled webhooks with their relay marks. */
export async function relayedWebhooks(db: DbOrTx): Promise<RelayedWebhook[]> {
  return db
    .select({ id: webhooks.id, integrationId: webhooks.integrationId, startEventId: webhooks.startEventId, relayedEventId: webhooks.relayedEventId })
    .from(webhooks)
    .where(eq(webhooks.enabled, true));
}

export type RelayScan = {
  /** Tickets with undelivered events in the span, not failing (their retries carry those). */
  ticketIds: string[];
  /** The last event of the span: the next scan starts after it (undefined: nothing old enough yet). */
  through: number | undefined;
  /** The span was cut at `limit`: scan again. */
  full: boolean;
};

/**
 * Scans the webhook's events after `afterId`, in id order, up to the first
 * one younger than `lagMs` (the live path has not had its chance yet) or
 * `limit` events, and names the tickets whose cursor is behind.
 */
export async function relayScan(
  db: DbOrTx,
  params: { webhook: RelayedWebhook; afterId: number; lagMs: number; limit: number },
): Promise<RelayScan> {
  const { webhook } = params;
  const events = await db.execute<{ id: string; ticketId: string; settled: boolean }>(sql`
    select id, ticket_id as "ticketId", at < now() - make_interval(secs => ${params.lagMs / 1000}) as settled
      from ticket_events
     where integration_id = ${webhook.integrationId} and id > ${params.afterId}
     order by id
     limit ${params.limit}`);
  const young = events.findIndex((e) => !e.settled);
  const span = young === -1 ? events : events.slice(0, young);
  if (span.length === 0) return { ticketIds: [], through: undefined, full: false };
  const latest = new Map<string, number>();
  for (const e of span) latest.set(e.ticketId, Number(e.id));
  const cursors = await db
    .select({ ticketId: webhookCursors.ticketId, delivered: webhookCursors.deliveredEventId, failures: webhookCursors.failures })
    .from(webhookCursors)
    .where(and(eq(webhookCursors.webhookId, webhook.id), inArray(webhookCursors.ticketId, [...latest.keys()])));
  const byTicket = new Map(cursors.map((c) => [c.ticketId, c]));
  const behind = [...latest].filter(([ticketId, last]) => {
    const cursor = byTicket.get(ticketId);
    return (cursor?.failures ?? 0) === 0 && Math.max(cursor?.delivered ?? 0, webhook.startEventId) < last;
  });
  return { ticketIds: behind.map(([id]) => id), through: Number(span.at(-1)!.id), full: young === -1 && events.length === params.limit };
}

/** Moves a webhook's relay mark forward (never back: several nodes sweep). */
export async function markRelayed(db: DbOrTx, params: { webhookId: string; through: number }): Promise<void> {
  await db
    .update(webhooks)
    .set({ relayedEventId: sql`greatest(${webhooks.relayedEventId}, ${params.through})` })
    .where(eq(webhooks.id, params.webhookId));
}

/** Tickets of enabled webhooks still failing, with no attempt for `afterMs`: their retries ran out, or their job was lost. */
export async function staleFailures(db: DbOrTx, params: { afterMs: number; limit: number }): Promise<string[]> {
  const rows = await db.execute<{ ticketId: string }>(sql`
    select c.ticket_id as "ticketId"
      from webhook_cursors c join webhooks w on w.id = c.webhook_id and w.enabled
     where c.failures > 0 and c.last_attempt_at < now() - make_interval(secs => ${params.afterMs / 1000})
     order by c.last_attempt_at
     limit ${params.limit}`);
  return rows.map((r) => r.ticketId);
}

/** Deletes delivery log rows older than `days`, at most `limit` at a time; returns how many. */
export async function pruneDeliveries(db: DbOrTx, params: { days: number; limit: number }): Promise<number> {
  const rows = await db.execute<{ id: string }>(sql`
    delete from webhook_deliveries where id in (
      select id from webhook_deliveries where at < now() - make_interval(days => ${params.days}) limit ${params.limit})
    returning id`);
  return rows.length;
}
