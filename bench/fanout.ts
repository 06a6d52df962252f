// The fan-out benchmark: status changes made by agents on two server nodes,
// delivered to roster subscribers on both, once for Switchboard and once for
// a Socket.IO baseline (two servers joined by @socket.io/postgres-adapter),
// each on a fresh database under the same load (bench/fanout-load.ts). The
// bookkeeping is bench/fanout-ledger.ts, the report bench/fanout-report.ts.
// PostgreSQL: the server at BENCH_ADMIN_DATABASE_URL, else an embedded one.
import { performance } from 'node:perf_hooks';
import { Ledger } from './fanout-ledger';
import { driveLoad, type RunningSystem } from './fanout-load';
import { writeReport, type MeasuredSystem, type RunInfo, type SystemName, type SystemResult, SYSTEM_LABELS } from './fanout-report';
import { createAdapterTable, seedWorkspace } from './fanout-seed';
import { startSocketIo } from './fanout-socketio';
import { startSwitchboard } from './fanout-switchboard';
import { openBenchPostgres, type BenchPostgres } from './lib/bench-postgres';
import { ActivitySampler } from './lib/database-activity';
import { createFreshDatabase, dropDatabase } from './presence-seed';
import { Cleanups, progress } from './lib/cleanups';
import { calibrate, calibrationLine } from './lib/calibration';

export type Size = {
  name: 'smoke' | 'full';
  agents: number;
  /** Roster subscribers, alternately on each node. */
  watchers: number;
  changesPerSecond: number;
  durationMs: number;
  /** Pause between connecting everyone and the first change. */
  settleMs: number;
  /** The report shows latency per slice of the sending window, this long each. */
  sliceMs: number;
};

export const SIZES: Record<Size['name'], Size> = {
  // Small enough for `npm test` on a 2-core CI machine, both systems in well under a minute.
  smoke: { name: 'smoke', agents: 500, watchers: 6, changesPerSecond: 50, durationMs: 5_000, settleMs: 500, sliceMs: 1_000 },
  full: { name: 'full', agents: 5_000, watchers: 50, changesPerSecond: 200, durationMs: 60_000, settleMs: 3_000, sliceMs: 10_000 },
};

/** BENCH_SYSTEMS=switchboard runs one system only (while working on it; the report then lacks the baseline). */
const SYSTEMS: readonly SystemName[] = (['switchboard', 'socketio'] as const).filter(
  (s) => !process.env.BENCH_SYSTEMS || process.env.BENCH_SYSTEMS.split(',').includes(s),
);
/**
 * After the last change, deliveries still on their way are waited for as long
 * as they keep arriving (a backlog is late, not lost), up to a limit; what has
 * not arrived once nothing has moved for the stall time is counted lost.
 */
const DRAIN = { drainStallMs: 10_000, drainLimitMs: 300_000 };
/** How often the database's backends are looked at during the sending window. */
const ACTIVITY_SAMPLE_MS = 100;

const say = progress('fanout');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs both systems and writes the report; resolves with whether the run counts as passed. */
export async function runFanout(options: { smoke: boolean; command: string }): Promise<boolean> {
  const started = performance.now();
  const size = options.smoke ? SIZES.smoke : SIZES.full;
  const cleanups = new Cleanups(say);
  const releaseSignals = cleanups.onSignals();

  const results: SystemResult[] = [];
  let info: RunInfo | undefined;
  try {
    const database = await openBenchPostgres({ say });
    cleanups.push(() => database.stop());
    const machine = await calibrate(database.adminUrl);
    say(calibrationLine(machine).slice(2));
    info = { size, command: options.command, databaseVersion: database.version, external: database.external, drain: DRAIN, machine };
    for (const system of SYSTEMS) {
      say(`── ${SYSTEM_LABELS[system]}: ${size.agents} agents, ${size.watchers} subscribers, ${size.changesPerSecond} changes/s for ${size.durationMs / 1000} s`);
      try {
        results.push(await runSystem(system, size, database));
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        say(`${system} broke: ${message}`);
        results.push({ system, broken: message });
      }
    }
  } finally {
    releaseSignals();
    await cleanups.run();
  }
  if (!info) return false;
  const { passed, file } = writeReport(results, { ...info, wallSeconds: (performance.now() - started) / 1000 });
  say(`report written to ${file}`);
  return passed;
}

/**
 * One system, start to stop. Its server processes stop on SIGTERM here, or by
 * themselves when this process dies (their stdin closes).
 */
async function runSystem(system: SystemName, size: Size, database: BenchPostgres): Promise<MeasuredSystem> {
  const cleanups = new Cleanups(say);
  try {
    const databaseName = `bench_fanout_${system}`;
    const url = await createFreshDatabase(database.adminUrl, databaseName);
    if (database.external) cleanups.push(() => dropDatabase(database.adminUrl, databaseName));
    const seeding = performance.now();
    const workspace = await seedWorkspace(url, { agents: size.agents, watchers: size.watchers });
    if (system === 'socketio') await createAdapterTable(url);
    say(`seeded ${size.agents} agents and ${size.watchers} watchers in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);

    const subscriberNodes = Array.from({ length: size.watchers }, (_, i) => i % 2);
    const ledger = new Ledger(subscriberNodes);
    const starting = performance.now();
    const start = system === 'switchboard' ? startSwitchboard : startSocketIo;
    const running: RunningSystem = await start({ databaseUrl: url, workspace, ledger, subscriberNodes });
    cleanups.push(() => running.stop()); // a no-op once stopped below
    const { connected } = running;
    say(
      `servers ${running.servers.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}; ${connected.attached}/${connected.agents} agents connected in ` +
        `${connected.seconds.toFixed(1)} s; subscribers ready ${((performance.now() - starting) / 1000).toFixed(1)} s after start`,
    );
    for (const [reason, n] of Object.entries(connected.failures)) say(`  ${n} agents failed: ${reason}`);
    await sleep(size.settleMs);

    const window = await driveLoad(
      running,
      ledger,
      { changesPerSecond: size.changesPerSecond, durationMs: size.durationMs, ...DRAIN },
      { postmasterPid: database.postmasterPid, activity: new ActivitySampler(url, ACTIVITY_SAMPLE_MS) },
    );
    const result = ledger.result({ startAt: window.startedAt, sliceMs: size.sliceMs });
    say(
      `${result.sent} changes, ${result.delivered}/${result.expected} deliveries, lost ${result.lost}, out-of-order ${result.outOfOrder}, ` +
        `drained ${window.drained ? 'in' : 'NOT within'} ${window.drainMs.toFixed(0)} ms`,
    );
    const trouble = running.trouble();
    const stopping = performance.now();
    const servers = await running.stop();
    say(`stopped in ${((performance.now() - stopping) / 1000).toFixed(1)} s (exit ${servers.map((s) => s.exitCode).join(', ')})`);
    return { system, connected, window, ledger: result, trouble, servers };
  } finally {
    await cleanups.run();
  }
}
