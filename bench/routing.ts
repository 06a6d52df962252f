// The routing benchmark: tickets created over the HTTP API at a steady rate
// and routed to agents on two Switchboard nodes (their own processes, one
// database). Every agent is a real client (bench/routing-agents.ts) that
// accepts each offer at once and completes the ticket after a random handle
// time; capacity and handle times are chosen so that the agents can just keep
// up, and tickets often wait for capacity to free. Measured: create-to-offer
// and queued-to-offer latency, tickets routed per second, and — from the
// ticket event log after the run — double assignments and capacity
// violations, which must be zero (bench/routing-analysis.ts). The load is
// bench/routing-load.ts, the report bench/routing-report.ts.
// PostgreSQL: the server at BENCH_ADMIN_DATABASE_URL, else an embedded one.
import { performance } from 'node:perf_hooks';
import { openBenchPostgres } from './lib/bench-postgres';
import { ActivitySampler } from './lib/database-activity';
import { spawnPresenceServer, type ServerProcess } from './presence-node';
import { createFreshDatabase, dropDatabase } from './presence-seed';
import { AgentDesk } from './routing-agents';
import { analyze } from './routing-analysis';
import { driveTickets } from './routing-load';
import { LockSampler } from './routing-locks';
import { writeReport, type Measured, type ServerReport } from './routing-report';
import { QUEUE_NAME, seedRouting } from './routing-seed';
import { Cleanups, progress } from './lib/cleanups';
import { calibrate, calibrationLine, type Calibration } from './lib/calibration';

export type Size = {
  name: 'smoke' | 'full';
  agents: number;
  /** Chat tickets an agent holds at most (offered + assigned): the queue's default. */
  chatCapacity: number;
  /** How long an agent works on a ticket after accepting it: uniform between the two. */
  handleMs: { min: number; max: number };
  ticketsPerSecond: number;
  durationMs: number;
  /** Pause between connecting everyone and the first ticket. */
  settleMs: number;
  /** How long after the last create to wait for every ticket to be offered and completed. */
  drainTimeoutMs: number;
  /** The report's slices of the sending window. */
  sliceMs: number;
};

// Agents × capacity ÷ mean handle time = the tickets per second the agents can
// take in steady state: 500 × 2 ÷ 5 s = 200/s, the arrival rate (smoke:
// 40 × 1 ÷ 2 s = 20/s). So once the first handle times run out, about as many
// slots free up as tickets arrive: many tickets find every agent full and wait
// for the next completion (queued-to-offer is measured), while the queue stays
// short (the agents keep up).
export const SIZES: Record<Size['name'], Size> = {
  // Small enough for `npm test` on a 2-core CI machine: well under 40 s in all.
  smoke: {
    name: 'smoke',
    agents: 40,
    chatCapacity: 1,
    handleMs: { min: 1_000, max: 3_000 },
    ticketsPerSecond: 20,
    durationMs: 5_000,
    settleMs: 500,
    drainTimeoutMs: 10_000,
    sliceMs: 1_000,
  },
  full: {
    name: 'full',
    agents: 500,
    chatCapacity: 2,
    handleMs: { min: 2_000, max: 8_000 },
    ticketsPerSecond: 200,
    durationMs: 60_000,
    settleMs: 2_000,
    drainTimeoutMs: 30_000,
    sliceMs: 5_000,
  },
};

/**
 * For finding where time goes, not for reports that count: BENCH_ROUTING_RATE
 * (tickets/s) and BENCH_ROUTING_SECONDS replace the size's arrival rate and
 * sending time. The report says when they were used.
 */
function withOverrides(size: Size): Size {
  const rate = Number(process.env.BENCH_ROUTING_RATE ?? Number.NaN);
  const seconds = Number(process.env.BENCH_ROUTING_SECONDS ?? Number.NaN);
  return {
    ...size,
    ...(rate > 0 ? { ticketsPerSecond: rate } : {}),
    ...(seconds > 0 ? { durationMs: seconds * 1000 } : {}),
  };
}

const DATABASE_NAME = 'bench_routing';
const NODE_NAMES = ['bench-routing-a', 'bench-routing-b'] as const;
/** Agents connecting at once, over both nodes. */
const CONNECT_BATCH = 100;
const ATTACH_TIMEOUT_MS = 30_000;
const ACTIVITY_SAMPLE_MS = 20;

const say = progress('routing');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the benchmark and writes the report; resolves with whether the run counts as passed. */
export async function runRouting(options: { smoke: boolean; command: string }): Promise<boolean> {
  const started = performance.now();
  const size = withOverrides(options.smoke ? SIZES.smoke : SIZES.full);
  const cleanups = new Cleanups(say);
  const releaseSignals = cleanups.onSignals();

  let measured: Measured | { broken: string };
  let databaseVersion = 'unknown';
  let external = false;
  let machine: Calibration | undefined;
  try {
    const database = await openBenchPostgres({ say });
    cleanups.push(() => database.stop());
    databaseVersion = database.version;
    external = database.external;
    machine = await calibrate(database.adminUrl);
    say(calibrationLine(machine).slice(2));
    const url = await createFreshDatabase(database.adminUrl, DATABASE_NAME);
    if (database.external) cleanups.push(() => dropDatabase(database.adminUrl, DATABASE_NAME));
    const seeding = performance.now();
    const workspace = await seedRouting(url, {
      agents: size.agents,
      capacity: { chat: size.chatCapacity, email: 5, phone: 1, task: 5 },
    });
    say(`seeded ${size.agents} agents, a queue and an API key in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);

    // One after the other, as a deployment rolls out (both migrate on start).
    const servers: ServerProcess[] = [];
    for (const nodeName of NODE_NAMES) {
      const server = await spawnPresenceServer({ mode: 'batched', databaseUrl: url, nodeName, readyTimeoutMs: 60_000 });
      servers.push(server);
      cleanups.push(() => server.stop());
    }
    const urls = servers.map((s) => `http://127.0.0.1:${s.port}`);
    say(`servers ${servers.map((s, i) => `${NODE_NAMES[i]} (pid ${s.pid})`).join(', ')}`);

    const desk = new AgentDesk({
      urls,
      tokens: workspace.tokens,
      handleTime: { minMs: size.handleMs.min, maxMs: size.handleMs.max },
      attachTimeoutMs: ATTACH_TIMEOUT_MS,
    });
    cleanups.push(() => desk.close());
    const connected = await desk.connectAll(CONNECT_BATCH);
    say(`${connected.connected}/${size.agents} agents available and watching their work in ${connected.seconds.toFixed(1)} s`);
    if (connected.connected < size.agents) {
      throw new Error(`only ${connected.connected} of ${size.agents} agents connected: ${[...connected.failures.keys()].slice(0, 3).join('; ')}`);
    }
    await sleep(size.settleMs);

    say(`creating ${size.ticketsPerSecond} tickets/s for ${size.durationMs / 1000} s`);
    const { created, window } = await driveTickets({
      urls,
      apiKey: workspace.apiKey,
      queue: QUEUE_NAME,
      shape: { ticketsPerSecond: size.ticketsPerSecond, durationMs: size.durationMs, drainTimeoutMs: size.drainTimeoutMs },
      servers: servers.map((s, i) => ({ name: NODE_NAMES[i] ?? `node ${i}`, pid: s.pid })),
      desk,
      database: {
        postmasterPid: database.postmasterPid,
        activity: new ActivitySampler(url, ACTIVITY_SAMPLE_MS),
        locks: new LockSampler(url, ACTIVITY_SAMPLE_MS),
      },
    });
    say(`${created.length} tickets sent; ${desk.completed} completed; drained ${window.drained ? 'in' : 'NOT within'} ${window.drainMs.toFixed(0)} ms`);

    const analysis = await analyze({ url, created, handled: desk.handled, sliceMs: size.sliceMs });
    await desk.close();
    const reports: ServerReport[] = [];
    for (const [i, server] of servers.entries()) {
      const exitCode = await server.stop();
      reports.push({ name: NODE_NAMES[i] ?? `node ${i}`, exitCode, outputCount: server.outputCount(), output: server.output });
    }
    measured = {
      connected: { agents: size.agents, connected: connected.connected, seconds: connected.seconds, failures: Object.fromEntries(connected.failures) },
      window,
      analysis,
      agentErrors: Object.fromEntries(desk.errors),
      reoffers: desk.reoffers,
      watchRestarts: Math.max(0, desk.watchStarts - size.agents),
      sessionsRenewed: desk.sessionsRenewed,
      servers: reports,
    };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    say(`broke: ${message}`);
    measured = { broken: message };
  } finally {
    releaseSignals();
    await cleanups.run();
  }
  const { passed, file } = writeReport(measured, {
    size,
    command: options.command,
    databaseVersion,
    external,
    wallSeconds: (performance.now() - started) / 1000,
    machine,
  });
  say(`report written to ${file}`);
  return passed;
}
