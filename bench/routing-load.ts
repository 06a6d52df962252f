// The routing benchmark's load and what is measured around it: tickets
// created over plain HTTP (POST /api/trpc/tickets.create with the
// integration's API key, as a ticketing system calls it) at a fixed rate,
// evenly spaced, alternately on each node; then a wait until every ticket has
// been offered, accepted and completed. Per create: request start and answer
// (performance.now(), the agents' clock). Over the sending window: each
// server's CPU and peak RSS (1 s samples), the database's and this process's
// CPU, what the database's backends were doing and who held its
// event-order locks, how late sends left.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Activity, ActivitySampler } from './lib/database-activity';
import { CLOCK_TICKS_PER_SECOND, cpuTicks, rssBytes, treeCpuTicks } from './lib/process-stats';
import type { AgentDesk } from './routing-agents';
import type { LockHolding, LockSampler } from './routing-locks';
import { sendOnSchedule } from './lib/schedule';

export type Created = {
  externalId: string;
  node: number;
  sentAt: number;
  answeredAt?: number;
  ticketId?: string;
  error?: string;
};

export type Shape = { ticketsPerSecond: number; durationMs: number; drainTimeoutMs: number };

export type LoadWindow = {
  seconds: number;
  /** Per server: percent of one core over the sending window, and peak RSS. */
  servers: Array<{ name: string; cpuPercent: number; peakRssBytes: number }>;
  databaseCpuPercent: number | undefined;
  databaseActivity: Activity[];
  /** Who held the advisory (event-order) locks over the sending window, and doing what. */
  lockHolding: LockHolding[];
  loadGeneratorCpuPercent: number;
  /** How late sends left against the schedule, ms. */
  sendLagMs: number[];
  /** From the end of the sending window until every ticket was answered, offered and completed (or the drain timed out), ms. */
  drainMs: number;
  drained: boolean;
  /** The machine's 1-minute load average when sending began and ended: other work on the machine shows here. */
  loadAverage: [number, number];
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function driveTickets(params: {
  urls: readonly string[];
  apiKey: string;
  queue: string;
  shape: Shape;
  servers: ReadonlyArray<{ name: string; pid: number }>;
  desk: AgentDesk;
  database: { postmasterPid: number | undefined; activity: ActivitySampler; locks: LockSampler };
}): Promise<{ created: Created[]; window: LoadWindow }> {
  const { urls, shape, servers, desk, database } = params;
  const total = Math.round((shape.ticketsPerSecond * shape.durationMs) / 1000);
  const spacingMs = 1000 / shape.ticketsPerSecond;
  const run = Date.now().toString(36);
  const created: Created[] = [];
  const sendLagMs: number[] = [];
  let answered = 0;

  const send = (k: number, scheduledAt: number) => {
    const node = k % urls.length;
    const record: Created = { externalId: `bench-${run}-${k}`, node, sentAt: performance.now() };
    sendLagMs.push(record.sentAt - scheduledAt);
    created.push(record);
    fetch(`${urls[node]}/api/trpc/tickets.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${params.apiKey}` },
      body: JSON.stringify({ externalId: record.externalId, queue: params.queue, channel: 'chat', subject: `Bench ticket ${k}` }),
    })
      .then(async (res) => {
        const text = await res.text();
        record.answeredAt = performance.now();
        const body = JSON.parse(text) as { result?: { data?: { id?: string } }; error?: { message?: string } };
        if (res.ok && body.result?.data?.id) record.ticketId = body.result.data.id;
        else record.error = `HTTP ${res.status}: ${body.error?.message ?? text.slice(0, 120)}`;
      })
      .catch((error: unknown) => {
        record.answeredAt ??= performance.now();
        record.error = error instanceof Error ? error.message : String(error);
      })
      .finally(() => (answered += 1));
  };

  const peakRss = servers.map(() => 0);
  const sampleRss = () =>
    servers.forEach((server, i) => {
      try {
        peakRss[i] = Math.max(peakRss[i] ?? 0, rssBytes(server.pid));
      } catch {
        // the server is gone; its exit code tells
      }
    });
  sampleRss();
  const sampler = setInterval(sampleRss, 1_000);

  const ticksBefore = servers.map((s) => cpuTicks(s.pid));
  const databaseBefore = database.postmasterPid === undefined ? undefined : treeCpuTicks(database.postmasterPid);
  const selfBefore = process.cpuUsage();
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const start = performance.now();
  database.activity.start();
  database.locks.start();
  let databaseActivity: Activity[] = [];
  let lockHolding: LockHolding[] = [];
  try {
    await sendOnSchedule(start, total, spacingMs, send);
  } finally {
    clearInterval(sampler);
    [databaseActivity, lockHolding] = await Promise.all([database.activity.stop(), database.locks.stop()]);
  }
  const end = performance.now();
  const seconds = (end - start) / 1000;
  const ticksAfter = servers.map((s) => cpuTicks(s.pid));
  const databaseAfter = database.postmasterPid === undefined ? undefined : treeCpuTicks(database.postmasterPid);
  const self = process.cpuUsage(selfBefore);
  const loadAfter = loadavg()[0] ?? Number.NaN;
  sampleRss();

  const done = () => {
    if (answered < created.length) return false;
    for (const record of created) {
      if (!record.ticketId) continue; // failed: nothing to wait for
      const handled = desk.handled.get(record.ticketId);
      if (handled?.completeAnsweredAt === undefined && handled?.failed === undefined) return false;
    }
    return true;
  };
  while (!done() && performance.now() - end < shape.drainTimeoutMs) await sleep(20);
  const drainMs = performance.now() - end;

  const percentOfCore = (ticks: number) => (ticks / CLOCK_TICKS_PER_SECOND / seconds) * 100;
  return {
    created,
    window: {
      seconds,
      servers: servers.map((server, i) => ({
        name: server.name,
        cpuPercent: percentOfCore((ticksAfter[i] ?? 0) - (ticksBefore[i] ?? 0)),
        peakRssBytes: peakRss[i] ?? 0,
      })),
      databaseCpuPercent:
        databaseBefore === undefined || databaseAfter === undefined ? undefined : percentOfCore(databaseAfter - databaseBefore),
      databaseActivity,
      lockHolding,
      loadGeneratorCpuPercent: ((self.user + self.system) / 1e6 / seconds) * 100,
      sendLagMs,
      drainMs,
      drained: done(),
      loadAverage: [loadBefore, loadAfter],
    },
  };
}
