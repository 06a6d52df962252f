// The load both systems get, and what is measured around it: status changes
// at a fixed rate, evenly spaced, each to the next agent in turn (agents
// alternate between the two nodes, so consecutive changes do too), each
// agent's status going round busy → away → available so that every change is
// one; then a wait until every subscriber has every change (or until
// deliveries stop coming: a backlog still draining is late, not lost). Server CPU over
// the sending window, peak RSS of 1 s samples, the database's and this
// process's CPU, what the database's backends were doing, and how late the
// sends left against the schedule.
import { performance } from 'node:perf_hooks';
import type { ChangeAnswer, Ledger } from './fanout-ledger';
import type { Activity, ActivitySampler } from './lib/database-activity';
import { CLOCK_TICKS_PER_SECOND, cpuTicks, machineBusyTicks, rssBytes, treeCpuTicks } from './lib/process-stats';
import { sendOnSchedule } from './lib/schedule';

export type Status = 'available' | 'busy' | 'away';
/** Agents start available (the product: a device attached, nothing chosen), so each step is a change. */
const CYCLE: readonly Status[] = ['busy', 'away', 'available'];

/** One system under load: two server processes, agents on sockets to them, subscribers feeding a ledger. */
export type System = {
  servers: ReadonlyArray<{ name: string; pid: number }>;
  agents: ReadonlyArray<{ id: string }>;
  /** The node (0 or 1) agent `index` is connected to. */
  nodeOf: (index: number) => number;
  /** Sends the agent's new status over its socket; resolves with the server's answer. */
  setStatus: (index: number, status: Status) => Promise<ChangeAnswer>;
};

/** A system started and connected, with what went wrong on the way; `stop` closes clients and servers. */
export type RunningSystem = System & {
  connected: { agents: number; attached: number; seconds: number; failures: Record<string, number> };
  /**
   * Subscribers that reconnected, reconnects that fell back to a snapshot,
   * errors they were given, and agents whose socket or session the server ended.
   */
  trouble: () => { reconnects: number; resyncs: number; errors: string[]; agentsDropped: number };
  stop: () => Promise<ServerReport[]>;
};

export type ServerReport = { name: string; exitCode: number | null; outputCount: number; output: string[] };

export type Shape = {
  changesPerSecond: number;
  durationMs: number;
  /** After the last send, stop waiting once nothing has been answered or delivered for this long... */
  drainStallMs: number;
  /** ...or after this long in all. */
  drainLimitMs: number;
};

export type LoadWindow = {
  /** performance.now() when sending began. */
  startedAt: number;
  seconds: number;
  /** Per server: percent of one core over the sending window, and peak RSS. */
  servers: Array<{ name: string; cpuPercent: number; peakRssBytes: number }>;
  databaseCpuPercent: number | undefined;
  /** The database's backends over the sending window (average count per state, wait and statement). */
  databaseActivity: Activity[];
  loadGeneratorCpuPercent: number;
  /** The machine's busy CPU less the servers', the database's and this process's: other work sharing the machine. */
  otherCpuPercent: number;
  /** How late sends left against the schedule, ms. */
  sendLagMs: number[];
  /** From the last send until every delivery arrived (or the wait for them ended), ms. */
  drainMs: number;
  drained: boolean;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function driveLoad(
  system: System,
  ledger: Ledger,
  shape: Shape,
  database: { postmasterPid: number | undefined; activity: ActivitySampler },
): Promise<LoadWindow> {
  const { postmasterPid } = database;
  const total = Math.round((shape.changesPerSecond * shape.durationMs) / 1000);
  const spacingMs = 1000 / shape.changesPerSecond;
  const changesOf = new Uint32Array(system.agents.length);
  const sendLagMs: number[] = [];

  const peakRss = system.servers.map(() => 0);
  const sampleRss = () =>
    system.servers.forEach((server, i) => {
      try {
        peakRss[i] = Math.max(peakRss[i] ?? 0, rssBytes(server.pid));
      } catch {
        // the server is gone; its exit code tells
      }
    });
  sampleRss();
  const sampler = setInterval(sampleRss, 1_000);

  const send = (k: number, scheduledAt: number) => {
    const index = k % system.agents.length;
    const agent = system.agents[index];
    if (!agent) return;
    const status = CYCLE[(changesOf[index] ?? 0) % CYCLE.length] ?? 'busy';
    changesOf[index] = (changesOf[index] ?? 0) + 1;
    const at = performance.now();
    sendLagMs.push(at - scheduledAt);
    const handle = ledger.sent(agent.id, system.nodeOf(index), at);
    system.setStatus(index, status).then(
      (answer) => ledger.answer(handle, answer, performance.now()),
      (error: unknown) => ledger.fail(handle, error instanceof Error ? error.message : String(error)),
    );
  };

  const ticksBefore = system.servers.map((s) => cpuTicks(s.pid));
  const databaseBefore = postmasterPid === undefined ? undefined : treeCpuTicks(postmasterPid);
  const selfBefore = process.cpuUsage();
  const machineBefore = machineBusyTicks();
  const start = performance.now();
  database.activity.start();
  try {
    await sendOnSchedule(start, total, spacingMs, send);
  } finally {
    clearInterval(sampler);
  }
  const end = performance.now();
  const seconds = (end - start) / 1000;
  const ticksAfter = system.servers.map((s) => cpuTicks(s.pid));
  const databaseAfter = postmasterPid === undefined ? undefined : treeCpuTicks(postmasterPid);
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineBusyTicks();
  const databaseActivity = await database.activity.stop();
  sampleRss();

  let remaining = ledger.outstanding + ledger.inFlight;
  let progressAt = end;
  while (!ledger.complete && performance.now() - progressAt < shape.drainStallMs && performance.now() - end < shape.drainLimitMs) {
    await sleep(5);
    const now = ledger.outstanding + ledger.inFlight;
    if (now !== remaining) progressAt = performance.now();
    remaining = now;
  }
  const drainMs = performance.now() - end;

  const percentOfCore = (ticks: number) => (ticks / CLOCK_TICKS_PER_SECOND / seconds) * 100;
  const serverPercents = system.servers.map((_, i) => percentOfCore((ticksAfter[i] ?? 0) - (ticksBefore[i] ?? 0)));
  const databaseCpuPercent =
    databaseBefore === undefined || databaseAfter === undefined ? undefined : percentOfCore(databaseAfter - databaseBefore);
  const loadGeneratorCpuPercent = ((self.user + self.system) / 1e6 / seconds) * 100;
  const ours = serverPercents.reduce((a, b) => a + b, 0) + (databaseCpuPercent ?? 0) + loadGeneratorCpuPercent;
  return {
    startedAt: start,
    seconds,
    servers: system.servers.map((server, i) => ({
      name: server.name,
      cpuPercent: serverPercents[i] ?? 0,
      peakRssBytes: peakRss[i] ?? 0,
    })),
    databaseCpuPercent,
    databaseActivity,
    loadGeneratorCpuPercent,
    otherCpuPercent: Math.max(0, percentOfCore(machineAfter - machineBefore) - ours),
    sendLagMs,
    drainMs,
    drained: ledger.complete,
  };
}
