// The presence benchmark: real WebSocket devices against one Switchboard node
// running in its own process, once per way of storing heartbeats (batched,
// the product; UPSERT per heartbeat and Redis ZADD per heartbeat, baselines),
// each on a fresh database under the same load. Per mode: an idle baseline,
// the devices connecting in batches, a steady window (every device each 15 s)
// and a stress window (as fast as the node answers). The report (table,
// ratios, targets) is bench/presence-report.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EmbeddedPostgres } from '../db/embedded';
import { summarize } from './lib/latency';
import { rssBytes } from './lib/process-stats';
import { callsOverBackground, statementRates, type Snapshot } from './lib/statement-breakdown';
import { startPostgresWithStatementCounting } from './lib/statement-counting';
import { DeviceFleet, newRecorder } from './presence-devices';
import { between, read, type Sources } from './presence-measure';
import { MODES, type Mode } from './presence-modes';
import { ROOT, spawnPresenceServer, type ServerProcess } from './presence-node';
import { DatabaseProbe, RedisProbe } from './presence-probes';
import { writeReport, type ModeResult, type RunInfo } from './presence-report';
import { createFreshDatabase, dropDatabase, seedAgents } from './presence-seed';
import { Cleanups, progress } from './lib/cleanups';

export type Size = {
  name: 'smoke' | 'full';
  devices: number;
  idleMs: number;
  settleMs: number;
  steadyMs: number;
  stressMs: number;
};

export const SIZES: Record<Size['name'], Size> = {
  // The idle window measures the node's background statements: its row and
  // sweep every 5 s, and pg-boss maintenance in a burst once a minute. The full
  // size's idle window is a minute, like its steady window, so both hold one
  // burst; the smoke size's windows are too short to say (not the target size).
  smoke: { name: 'smoke', devices: 300, idleMs: 5_000, settleMs: 1_000, steadyMs: 10_000, stressMs: 5_000 },
  // The settle outlasts PostgreSQL's 10 s idle-backend stats timer, so the
  // attach storm's transactions are not reported inside the steady window.
  full: { name: 'full', devices: 10_000, idleMs: 60_000, settleMs: 11_000, steadyMs: 60_000, stressMs: 20_000 },
};

/** What the product's clients do by default (HEARTBEAT_INTERVAL_MS). */
const HEARTBEAT_INTERVAL_MS = 15_000;
/** A session unseen this long is not online (SESSION_TTL_MS). */
const ONLINE_WITHIN_MS = 45_000;
const HEARTBEAT_JITTER = 0.02;
const CONNECT_BATCH = 200;
const ATTACH_TIMEOUT_MS = 30_000;
const STRESS_IN_FLIGHT = 128;
/** Statements listed per mode in the report's breakdown. */
const STATEMENTS_SHOWN = 8;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const say = progress('presence');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Context = {
  size: Size;
  adminUrl: string;
  postmasterPid: number | undefined;
  redis: RedisProbe | undefined;
  external: boolean;
};

/** Runs every mode and writes the report; resolves with whether the run counts as passed. */
export async function runPresence(options: { smoke: boolean; command: string }): Promise<boolean> {
  const started = performance.now();
  const size = options.smoke ? SIZES.smoke : SIZES.full;
  const cleanups = new Cleanups(say);
  const releaseSignals = cleanups.onSignals();

  const results: ModeResult[] = [];
  let info: RunInfo | undefined;
  try {
    warnAboutFileLimit(size.devices);
    const external = process.env.BENCH_ADMIN_DATABASE_URL;
    let adminUrl: string;
    let postmasterPid: number | undefined;
    if (external) {
      adminUrl = external;
      say('using the PostgreSQL at BENCH_ADMIN_DATABASE_URL');
    } else {
      const base = join(ROOT, '.test-data');
      mkdirSync(base, { recursive: true, mode: 0o755 });
      const dataDir = mkdtempSync(join(base, 'bench-'));
      chmodSync(dataDir, 0o755);
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      say(`starting embedded PostgreSQL in ${dataDir}`);
      const embedded: EmbeddedPostgres = await startPostgresWithStatementCounting(dataDir);
      cleanups.push(() => embedded.stop());
      adminUrl = embedded.url('postgres');
      postmasterPid = embedded.pid;
    }

    const redis = await RedisProbe.connect(REDIS_URL);
    const skipped: string[] = [];
    if (typeof redis === 'string') {
      say(`Redis at ${REDIS_URL} is unreachable (${redis}): skipping the redis mode`);
      skipped.push(`redis: Redis at ${REDIS_URL} unreachable (${redis})`);
    } else cleanups.push(() => redis.close());
    const context: Context = {
      size,
      adminUrl,
      postmasterPid,
      redis: typeof redis === 'string' ? undefined : redis,
      external: Boolean(external),
    };
    info = { size, command: options.command, databaseVersion: await databaseVersion(adminUrl), skipped, external: Boolean(external) };

    for (const mode of MODES) {
      if (mode === 'redis' && !context.redis) continue;
      say(`── mode ${mode}: ${size.devices.toLocaleString('en-US')} devices`);
      try {
        results.push(await runMode(mode, context));
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        say(`mode ${mode} broke: ${message}`);
        results.push({ mode, broken: message });
      }
    }
  } finally {
    releaseSignals();
    await cleanups.run();
  }
  if (!info) return false;
  const wallSeconds = (performance.now() - started) / 1000;
  const { passed, file } = writeReport(results, { ...info, wallSeconds });
  say(`report written to ${file}`);
  return passed;
}

async function runMode(mode: Mode, context: Context): Promise<ModeResult> {
  const { size } = context;
  const cleanups = new Cleanups(say);
  try {
    const databaseName = `bench_presence_${mode}`;
    const url = await createFreshDatabase(context.adminUrl, databaseName);
    if (context.external) cleanups.push(() => dropDatabase(context.adminUrl, databaseName));
    const seedStarted = performance.now();
    const tokens = await seedAgents(url, size.devices);
    say(`seeded ${tokens.length} agents in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    const database = new DatabaseProbe(url);
    cleanups.push(() => database.close());
    const countStatements = await database.enableStatementCounting();
    if (!countStatements) say('pg_stat_statements is not loaded on this server: counting transactions instead of statements');

    const redisKey = `switchboard-bench:${process.pid}:presence:online`;
    if (mode === 'redis') cleanups.push(() => context.redis?.remove(redisKey));
    const serverStarting = performance.now();
    const server: ServerProcess = await spawnPresenceServer({
      mode,
      databaseUrl: url,
      redisUrl: REDIS_URL,
      redisKey,
      readyTimeoutMs: 60_000,
    });
    let serverExit: number | null | undefined;
    cleanups.push(async () => {
      const stopping = performance.now();
      serverExit = await server.stop();
      say(`server stopped (exit ${serverExit}) in ${((performance.now() - stopping) / 1000).toFixed(1)} s`);
    });
    const sources: Sources = { server, database, countStatements, postmasterPid: context.postmasterPid, redis: context.redis };
    say(`server pid ${server.pid} listening on port ${server.port} (started in ${((performance.now() - serverStarting) / 1000).toFixed(1)} s)`);

    // Idle: the node alone, before any device connects.
    const snapshot = async (): Promise<Snapshot> => (countStatements ? database.statementCalls() : new Map());
    await sleep(500);
    const idleStatements = await snapshot();
    const idleStart = await read(sources);
    await sleep(size.idleMs);
    const idleEnd = await read(sources);
    const idleStatementsEnd = await snapshot();
    const idle = between(idleStart, idleEnd);
    const idleRss = rssBytes(server.pid);
    const idleStatementRate = (idle.statements ?? idle.transactions) / idle.seconds;
    say(`idle: RSS ${(idleRss / 2 ** 20).toFixed(0)} MiB, CPU ${idle.serverCpuPercent.toFixed(1)} %, ${idleStatementRate.toFixed(1)} ${countStatements ? 'statements' : 'transactions'}/s`);

    // Connect, heartbeating from attach on.
    const fleet = new DeviceFleet({
      url: `ws://127.0.0.1:${server.port}/api/trpc`,
      tokens,
      intervalMs: HEARTBEAT_INTERVAL_MS,
      jitter: HEARTBEAT_JITTER,
      attachTimeoutMs: ATTACH_TIMEOUT_MS,
    });
    cleanups.push(() => fleet.close());
    fleet.startSteady();
    const progressEvery = Math.max(CONNECT_BATCH, Math.ceil(size.devices / 5 / CONNECT_BATCH) * CONNECT_BATCH);
    const connected = await fleet.connectAll(CONNECT_BATCH, (done) => {
      if (done % progressEvery === 0 && done < size.devices) say(`  ${done} devices connecting or attached`);
    });
    say(`attached ${connected.attached}/${size.devices} in ${connected.seconds.toFixed(1)} s (${(connected.attached / connected.seconds).toFixed(0)}/s)`);
    for (const [reason, count] of connected.failures) say(`  ${count} failed: ${reason}`);
    if (connected.attached === 0) throw new Error('no device attached');
    await sleep(size.settleMs);

    // Steady.
    const steadyRecorder = newRecorder();
    const rssSamples: number[] = [];
    const sampler = setInterval(() => {
      try {
        rssSamples.push(rssBytes(server.pid));
      } catch {
        // the server is gone; the next reading says so
      }
    }, 1_000);
    cleanups.push(() => clearInterval(sampler));
    const steadyStatements = await snapshot();
    const steadyStart = await read(sources);
    fleet.record(steadyRecorder);
    await sleep(size.steadyMs);
    fleet.record(undefined);
    const steadyEnd = await read(sources);
    const steadyStatementsEnd = await snapshot();
    clearInterval(sampler);
    rssSamples.push(rssBytes(server.pid));
    const steady = between(steadyStart, steadyEnd);
    const idleCalls = { from: idleStatements, to: idleStatementsEnd, seconds: idle.seconds };
    const steadyCalls = { from: steadyStatements, to: steadyStatementsEnd, seconds: steady.seconds };
    const statements = statementRates(idleCalls, steadyCalls, STATEMENTS_SHOWN);
    const statementsOverBackground = countStatements ? callsOverBackground(idleCalls, steadyCalls) : undefined;
    const online =
      mode === 'redis' && context.redis
        ? await context.redis.online(redisKey, ONLINE_WITHIN_MS)
        : await database.onlineSessions(ONLINE_WITHIN_MS);
    const stillAttached = fleet.attached;
    const heartbeated = fleet.heartbeated;
    fleet.stopSteady();
    await fleet.drain(10_000);
    const steadyLatency = summarize(steadyRecorder.latenciesMs);
    say(
      `steady: ${(steady.heartbeats / steady.seconds).toFixed(1)} hb/s, CPU ${steady.serverCpuPercent.toFixed(1)} %, ` +
        `ack p50 ${steadyLatency.p50.toFixed(2)} / p99 ${steadyLatency.p99.toFixed(2)} ms, online ${online}/${connected.attached}`,
    );

    // Stress.
    const stressRecorder = newRecorder();
    const stressStart = await read(sources);
    fleet.record(stressRecorder);
    fleet.startStress(STRESS_IN_FLIGHT);
    await sleep(size.stressMs);
    const stressAcked = stressRecorder.acked;
    const stressEnd = await read(sources);
    fleet.record(undefined);
    fleet.stopStress();
    await fleet.drain(10_000);
    const stress = between(stressStart, stressEnd);
    const stressLatency = summarize(stressRecorder.latenciesMs);
    say(`stress: ${(stressAcked / stress.seconds).toFixed(0)} hb/s, ack p99 ${stressLatency.p99.toFixed(2)} ms, server CPU ${stress.serverCpuPercent.toFixed(0)} %`);

    const endedSessions = await database.endedSessions();
    const totals = { ...fleet.totals, errorSamples: [...fleet.totals.errorSamples] };
    // Stop in reverse order of start, then look at what the server printed.
    await cleanups.runOrThrow();
    return {
      mode,
      devices: size.devices,
      attached: connected.attached,
      stillAttached,
      connectSeconds: connected.seconds,
      connectFailures: Object.fromEntries(connected.failures),
      idle: { window: idle, rssBytes: idleRss },
      steady: { window: steady, recorder: steadyRecorder, latency: steadyLatency, peakRssBytes: Math.max(...rssSamples), online, heartbeated },
      stress: { window: stress, acked: stressAcked, recorder: stressRecorder, latency: stressLatency },
      fleet: totals,
      endedSessions,
      countedStatements: countStatements,
      statements,
      statementsOverBackground,
      server: { exitCode: serverExit ?? null, outputCount: server.outputCount(), output: server.output.slice(0, 200) },
    };
  } finally {
    await cleanups.run();
  }
}

async function databaseVersion(adminUrl: string): Promise<string> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    return row?.v ?? 'unknown';
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The load generator holds one socket per device (the server another, in its process). */
function warnAboutFileLimit(devices: number): void {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+)/m.exec(limits);
  const soft = match ? Number(match[1]) : Number.POSITIVE_INFINITY;
  if (soft < devices + 1_000) say(`warning: the open-file limit (${soft}) is below ${devices} devices + 1,000; raise ulimit -n`);
}
