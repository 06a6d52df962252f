// /metrics in Prometheus's text format (prom-client). What the node counts
// anyway (server/ops/stats.ts, the router's and the engine's counters) is read
// when scraped; what the whole cluster shares (agents by status, queues,
// pg-boss jobs, webhook deliveries) is read from the database then, in four
// small statements, so every node reports the same cluster figures and a
// scrape costs nothing between scrapes. Histograms are observed as things
// happen: the heartbeat flush, NOTIFY to delivery, ticket creates.
import { sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/client';
import type { Logger } from '../log';
import { queueStats } from '../../db/queries/tickets';
import type { Router } from '../routing/router';
import type { NodeStats } from './stats';

export type Metrics = {
  registry: Registry;
  /** The engine reports each heartbeat flush's duration here. */
  observeFlush: (seconds: number) => void;
  /** The hub reports, per log, the time from a notification heard to the delivery of what it announced. */
  observeDelivery: (log: 'presence' | 'tickets', seconds: number) => void;
  /** The router reports each ticket create's duration (its offer included). */
  observeCreate: (seconds: number) => void;
};

/** A counter whose value is a running total kept elsewhere, set when scraped. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function createMetrics(deps: { db: Db; stats: () => NodeStats; router: () => Router | undefined }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { db, stats } = deps;

  const nodeGauge = (name: string, help: string, read: (s: NodeStats) => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read(stats())); } });
  nodeGauge('switchboard_websocket_connections', 'Open tRPC WebSockets on this node.', (s) => s.connections);
  nodeGauge('switchboard_device_sessions', 'Device sessions whose socket is on this node.', (s) => s.liveSessions);
  nodeGauge('switchboard_subscribers', 'Live views fed by this node (rosters, team views, own views, ticket feeds).', (s) => s.subscribers);
  totalCounter(registry, 'switchboard_heartbeats_total', 'Device heartbeats this node acknowledged.', () => stats().heartbeats);
  totalCounter(registry, 'switchboard_heartbeat_flushes_total', 'Batched last-seen writes this node made.', () => stats().flushes);
  totalCounter(registry, 'switchboard_deliveries_coalesced_total', 'Roster changes a slow reader never received because a newer row of the same agent replaced them.', () => stats().deliveriesCoalesced);
  totalCounter(registry, 'switchboard_subscribers_dropped_total', 'Live views closed because they fell too far behind.', () => stats().subscribersDropped);
  totalCounter(registry, 'switchboard_offers_total', 'Offers this node made.', () => deps.router()?.stats.offers ?? 0);
  totalCounter(registry, 'switchboard_offers_expired_total', 'Offers this node ended because they were not answered in time.', () => deps.router()?.stats.expired ?? 0);
  new Counter({
    name: 'switchboard_agent_actions_total',
    help: "Agents' answers this node carried out: offers accepted and declined, tickets completed and released.",
    labelNames: ['action'],
    registers: [registry],
    collect() {
      this.reset();
      const actions = deps.router()?.stats.actions;
      for (const action of ['accept', 'decline', 'complete', 'release'] as const) this.inc({ action }, actions?.[action] ?? 0);
    },
  });
  totalCounter(registry, 'switchboard_creates_refused_total', 'tickets.create calls this node refused as busy (429).', () => deps.router()?.stats.refusedCreates ?? 0);

  const flush = new Histogram({
    name: 'switchboard_heartbeat_flush_seconds',
    help: 'How long one batched last-seen write took.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  const delivery = new Histogram({
    name: 'switchboard_notify_to_delivery_seconds',
    help: 'From a NOTIFY heard by this node to the delivery of what it announced to its local subscribers, per event log.',
    labelNames: ['log'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const create = new Histogram({
    name: 'switchboard_ticket_create_seconds',
    help: 'How long tickets.create took on this node, its routing (the offer) included.',
    buckets: [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  /** A gauge per value of `label`, from `count` (a count per value, read at the scrape); every value of `values` is reported, 0 when none. */
  const countsBy = (name: string, help: string, label: string, values: readonly string[], count: () => Promise<Array<{ value: string; n: number }>>) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        this.reset();
        for (const value of values) this.set({ [label]: value }, 0);
        for (const row of await count()) this.set({ [label]: row.value }, row.n);
      },
    });
  countsBy('switchboard_agents', 'Agents by status, cluster-wide.', 'status', ['available', 'busy', 'away', 'offline'], () =>
    db.execute<{ value: string; n: number }>(sql`select status::text as value, count(*)::int as n from agent_presence group by status`),
  );

  // Three series from one read of the queues per scrape (each gauge collects on its own).
  let queueRead: { at: number; rows: ReturnType<typeof queueStats> } | undefined;
  const queues = () => {
    if (!queueRead || performance.now() - queueRead.at > 1_000) queueRead = { at: performance.now(), rows: queueStats(db) };
    return queueRead.rows;
  };
  const perQueue = (name: string, help: string, value: (q: Awaited<ReturnType<typeof queueStats>>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const queue of await queues()) this.set({ queue: queue.name }, value(queue));
      },
    });
  perQueue('switchboard_queue_waiting_tickets', 'Tickets waiting in each queue, cluster-wide.', (q) => q.depth);
  perQueue('switchboard_queue_offered_tickets', 'Tickets offered and not yet answered, per queue.', (q) => q.offered);
  perQueue('switchboard_queue_oldest_wait_seconds', 'How long the oldest waiting ticket of each queue has waited (0 when none waits).', (q) => q.oldestWaitMs / 1000);

  new Gauge({
    name: 'switchboard_jobs',
    help: 'pg-boss jobs not yet done, per queue and state (created, retry, active).',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.execute<{ name: string; state: string; n: number }>(sql`
        select name, state::text as state, count(*)::int as n from pgboss.job
         where state in ('created', 'retry', 'active') group by name, state`);
      for (const row of rows) this.set({ queue: row.name, state: row.state }, row.n);
    },
  });

  countsBy(
    'switchboard_webhook_deliveries',
    'Webhook delivery attempts on record, by outcome, cluster-wide (kept for the retention period).',
    'status',
    ['delivered', 'failed'],
    () => db.execute<{ value: string; n: number }>(sql`select status::text as value, count(*)::int as n from webhook_deliveries group by status`),
  );

  return {
    registry,
    observeFlush: (seconds) => flush.observe(seconds),
    observeDelivery: (log, seconds) => delivery.observe({ log }, seconds),
    observeCreate: (seconds) => create.observe(seconds),
  };
}

/** GET /metrics: the registry's text, behind `Authorization: Bearer <METRICS_TOKEN>` when that is set. */
export function serveMetrics(req: IncomingMessage, res: ServerResponse, registry: Registry, token: string | undefined, log: Logger): void {
  if (token) {
    const given = Buffer.from(req.headers.authorization ?? '');
    const wanted = Buffer.from(`Bearer ${token}`);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('metrics need the METRICS_TOKEN\n');
      return;
    }
  }
  registry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
    (error: unknown) => {
      log.error('collecting metrics failed', { error });
      res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
    },
  );
}
