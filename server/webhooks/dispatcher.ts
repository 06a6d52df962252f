// Webhook delivery on one node: a pg-boss queue with one job per ticket, the
// live path that queues them, and the periodic safety net.
// - The queue is `stately` with the ticket id as singleton key: per ticket at
//   most one job runs, one waits and one waits to retry, on all nodes together.
//   A job delivers everything pending for its ticket, so queueing the same
//   ticket many times (every node does, for every event) costs one insert that
//   does nothing; and a job that finds a retry already scheduled leaves the
//   work to it, so a new event does not cut a failing receiver's backoff short.
// - A failed attempt fails the job; pg-boss retries it with exponential
//   backoff and jitter, capped. When the retries run out, the sweep queues the
//   ticket again once the longest delay has passed: delivery is retried for as
//   long as the webhook stays enabled.
// - Every node runs workers, the live path and the sweep; start and stop are
//   each safe to call once.
import type { Job, JobInsert, PgBoss } from 'pg-boss';
import type { Db } from '../../db/client';
import type { Env } from '../env';
import type { Logger } from '../log';
import type { Hub, TicketDelta } from '../realtime/hub';
import { Remembered } from '../realtime/remembered';
import { deliverTicket, WebhookDeliveryError } from './delivery';
import { withEnabledWebhook } from './store';
import { sweepWebhooks } from './sweep';

export const WEBHOOK_QUEUE = 'webhook-delivery';

/** The configurable knobs (server/env.ts). */
export type WebhookSettings = Pick<Env, 'WEBHOOK_RETRY_DELAY_MS' | 'WEBHOOK_RETRY_MAX_DELAY_MS' | 'WEBHOOK_SWEEP_MS'>;

/** How long one HTTP attempt may take, response included. */
export const DELIVERY_TIMEOUT_MS = 5_000;
/** Events one job delivers before it hands over to a new job: 20 × 5 s stays well within its expiry. */
const EVENTS_PER_RUN = 20;
/** A job still active after this long (its node died or hung) is failed and retried elsewhere. */
const JOB_EXPIRE_SECONDS = 150;
/** Retries of one job; then the sweep takes over. With the default delays, about half a day. */
const RETRY_LIMIT = 20;
/** Jobs each node runs at once. */
const WORKERS = 4;
/** Events younger than this are the live path's; the sweep relays only older ones. */
const RELAY_LAG_MS = 10_000;
const INSERT_CHUNK = 500;

type JobData = { ticketId: string };

function jobOptions(settings: WebhookSettings): Omit<JobInsert<JobData>, 'data' | 'singletonKey'> {
  return {
    retryLimit: RETRY_LIMIT,
    retryDelay: Math.ceil(settings.WEBHOOK_RETRY_DELAY_MS / 1000),
    retryBackoff: true,
    retryDelayMax: Math.ceil(settings.WEBHOOK_RETRY_MAX_DELAY_MS / 1000),
    expireInSeconds: JOB_EXPIRE_SECONDS,
    // Waiting and retrying jobs outlive the longest retry series; finished ones are not kept.
    retentionSeconds: 3 * 24 * 3600,
    deleteAfterSeconds: 3600,
  };
}

/** Queues a delivery job for each ticket (a ticket with one waiting already keeps it); true if any was new. */
export async function enqueueDeliveries(boss: PgBoss, settings: WebhookSettings, ticketIds: readonly string[]): Promise<boolean> {
  let queued = false;
  const unique = [...new Set(ticketIds)];
  for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
    const jobs = unique.slice(i, i + INSERT_CHUNK).map((ticketId) => ({ data: { ticketId }, singletonKey: ticketId, ...jobOptions(settings) }));
    const ids = await boss.insert(WEBHOOK_QUEUE, jobs, { returnId: true });
    if (ids?.length) queued = true;
  }
  return queued;
}

/** How long a node trusts what it read of an integration's webhook, should a change's notification be missed. */
const ENABLED_TTL_MS = 10_000;

/**
 * Which integrations have an enabled webhook, as this node last read it. The
 * live path asks on every batch of ticket events, and almost always the
 * answer has not changed. Forgotten whenever a webhook is created or changed
 * anywhere (a control message from `setWebhook`'s transaction), and after
 * ENABLED_TTL_MS. Being wrong costs only time: a ticket queued for a disabled
 * webhook finds nothing to deliver, and an event not queued is relayed by the
 * sweep.
 */
class EnabledWebhooks {
  private readonly known = new Remembered<boolean>();

  constructor(private readonly db: Db) {}

  forget(): void {
    this.known.forget();
  }

  async of(integrationIds: readonly string[]): Promise<Set<string>> {
    const enabled = new Set<string>();
    const unknown: string[] = [];
    for (const id of integrationIds) {
      const known = this.known.get(id);
      if (known === undefined) unknown.push(id);
      else if (known) enabled.add(id);
    }
    if (unknown.length === 0) return enabled;
    const token = this.known.token;
    const hooked = await withEnabledWebhook(this.db, { integrationIds: unknown });
    const until = Date.now() + ENABLED_TTL_MS;
    for (const id of unknown) {
      if (hooked.has(id)) enabled.add(id);
      this.known.set(id, hooked.has(id), until, token);
    }
    return enabled;
  }
}

export async function startWebhooks(deps: {
  db: Db;
  hub: Hub;
  boss: PgBoss;
  log: Logger;
  settings: WebhookSettings;
}): Promise<{ stop: () => Promise<void> }> {
  const { db, hub, boss, log, settings } = deps;
  let stopped = false;
  // Options given at creation; jobs carry their own too, so changed settings apply to new jobs.
  await boss.createQueue(WEBHOOK_QUEUE, { policy: 'stately', ...jobOptions(settings) });

  let workerId: string | undefined = undefined; // set once the workers run
  const enqueue = async (ticketIds: readonly string[]) => {
    // The node that queued a job wakes its own worker; the others find it by polling.
    if ((await enqueueDeliveries(boss, settings, ticketIds)) && workerId) boss.notifyWorker(workerId);
  };

  const runJob = async (job: Job<JobData>) => {
    const { ticketId } = job.data;
    try {
      const run = await deliverTicket(
        { db, log },
        {
          ticketId,
          timeoutMs: DELIVERY_TIMEOUT_MS,
          maxEvents: EVENTS_PER_RUN,
          signal: job.signal,
          stopping: () => stopped,
          retryScheduled: async () =>
            job.retryCount === 0 && (await boss.findJobs(WEBHOOK_QUEUE, { key: ticketId, queued: true })).some((j) => j.state === 'retry'),
        },
      );
      if (run.more) await enqueue([ticketId]);
    } catch (error) {
      if (error instanceof WebhookDeliveryError) log.warn('webhook delivery failed; pg-boss retries it', { ticketId, retry: job.retryCount, error: error.message });
      else log.error('webhook delivery job failed', { ticketId, error });
      throw error;
    }
  };
  workerId = await boss.work<JobData>(WEBHOOK_QUEUE, { pollingIntervalSeconds: 1, batchSize: 1, localConcurrency: WORKERS }, async (jobs) => {
    for (const job of jobs) await runJob(job);
  });

  // The live path: every event of an integration with an enabled webhook queues its ticket.
  const enabledWebhooks = new EnabledWebhooks(db);
  const unlistenControl = hub.onControl((message) => {
    if (message.k === 'webhooks') enabledWebhooks.forget();
  });
  const pending = new Map<string, string>(); // ticket id → integration id
  let flushing: Promise<void> | undefined;
  const flush = async () => {
    await new Promise((resolve) => setImmediate(resolve)); // let the hub hand over the rest of its batch
    while (pending.size && !stopped) {
      const batch = [...pending];
      pending.clear();
      try {
        const hooked = await enabledWebhooks.of([...new Set(batch.map(([, integrationId]) => integrationId))]);
        const ticketIds = batch.filter(([, integrationId]) => hooked.has(integrationId)).map(([ticketId]) => ticketId);
        if (ticketIds.length) await enqueue(ticketIds);
      } catch (error) {
        log.error('queueing webhook deliveries failed; the sweep will', { error });
      }
    }
  };
  const unsubscribe = hub.tickets.subscribe((delta: TicketDelta) => {
    pending.set(delta.ticketId, delta.integrationId);
    flushing ??= flush().finally(() => (flushing = undefined));
  });

  // The safety net.
  let sweeping: Promise<void> | undefined;
  const sweep = () =>
    (sweeping ??= sweepWebhooks(
      { db, enqueue },
      { relayLagMs: RELAY_LAG_MS, staleAfterMs: settings.WEBHOOK_RETRY_MAX_DELAY_MS + 60_000 },
    )
      .then((result) => {
        if (result.relayed.length || result.stale.length) {
          log.info('webhook sweep queued deliveries', { relayed: result.relayed.length, stale: result.stale.length });
        }
      })
      .catch((error: unknown) => log.error('webhook sweep failed', { error }))
      .finally(() => (sweeping = undefined)));
  const timer = setInterval(() => void sweep(), settings.WEBHOOK_SWEEP_MS);
  timer.unref();
  void sweep();

  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearInterval(timer);
        unsubscribe();
        unlistenControl();
        await Promise.all([flushing, sweeping]);
        // Waits for running jobs: each ends after its attempt in flight (at most DELIVERY_TIMEOUT_MS).
        await boss.offWork(WEBHOOK_QUEUE).catch((error: unknown) => log.error('stopping webhook workers failed', { error }));
      })()),
  };
}
