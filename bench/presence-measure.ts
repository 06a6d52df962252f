// One reading of every counter the presence benchmark compares across a
// window (server CPU ticks, database CPU, database statements and transactions, Redis
// commands and CPU, engine stats, the load generator's own CPU), and the
// difference between two readings.
import { performance } from 'node:perf_hooks';
import { CLOCK_TICKS_PER_SECOND, cpuTicks, treeCpuTicks } from './lib/process-stats';
import type { ServerStats } from './presence-modes';
import type { ServerProcess } from './presence-node';
import type { DatabaseProbe, RedisProbe } from './presence-probes';

export type Reading = {
  atMs: number;
  serverTicks: number;
  databaseTicks: number | undefined;
  statements: number | undefined;
  transactions: number;
  redisCommands: number | undefined;
  redisCpuSeconds: number | undefined;
  engine: ServerStats;
  loadGenerator: NodeJS.CpuUsage;
};

export type Sources = {
  server: ServerProcess;
  database: DatabaseProbe;
  /** Whether pg_stat_statements is there to count statements. */
  countStatements: boolean;
  /** The postmaster's pid, when the database runs on this machine and we know it. */
  postmasterPid: number | undefined;
  redis: RedisProbe | undefined;
};

export async function read(sources: Sources): Promise<Reading> {
  const atMs = performance.now();
  const serverTicks = cpuTicks(sources.server.pid);
  const databaseTicks = sources.postmasterPid === undefined ? undefined : treeCpuTicks(sources.postmasterPid);
  const loadGenerator = process.cpuUsage();
  // The database probe has one connection: its two queries run one after the other.
  const databaseCounts = (async () => ({
    statements: sources.countStatements ? await sources.database.statements() : undefined,
    transactions: await sources.database.transactions(),
  }))();
  const [{ statements, transactions }, engine, redisCommands, redisCpuSeconds] = await Promise.all([
    databaseCounts,
    sources.server.stats(),
    sources.redis?.commandsProcessed(),
    sources.redis?.cpuSeconds(),
  ]);
  return { atMs, serverTicks, databaseTicks, statements, transactions, redisCommands, redisCpuSeconds, engine, loadGenerator };
}

export type Window = {
  seconds: number;
  heartbeats: number;
  flushes: number;
  statements: number | undefined;
  transactions: number;
  /** Percent of one core. */
  serverCpuPercent: number;
  serverCpuMs: number;
  databaseCpuPercent: number | undefined;
  redisCpuPercent: number | undefined;
  redisCommands: number | undefined;
  loadGeneratorCpuPercent: number;
};

const optionalDelta = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : b - a);

export function between(a: Reading, b: Reading): Window {
  const seconds = (b.atMs - a.atMs) / 1000;
  const serverCpuMs = ((b.serverTicks - a.serverTicks) / CLOCK_TICKS_PER_SECOND) * 1000;
  const databaseTicks = optionalDelta(a.databaseTicks, b.databaseTicks);
  const redisCpu = optionalDelta(a.redisCpuSeconds, b.redisCpuSeconds);
  const loadGeneratorUs =
    b.loadGenerator.user - a.loadGenerator.user + (b.loadGenerator.system - a.loadGenerator.system);
  return {
    seconds,
    heartbeats: b.engine.heartbeats - a.engine.heartbeats,
    flushes: b.engine.flushes - a.engine.flushes,
    statements: optionalDelta(a.statements, b.statements),
    transactions: b.transactions - a.transactions,
    serverCpuMs,
    serverCpuPercent: serverCpuMs / 10 / seconds,
    databaseCpuPercent: databaseTicks === undefined ? undefined : (databaseTicks / CLOCK_TICKS_PER_SECOND / seconds) * 100,
    redisCpuPercent: redisCpu === undefined ? undefined : (redisCpu / seconds) * 100,
    redisCommands: optionalDelta(a.redisCommands, b.redisCommands),
    loadGeneratorCpuPercent: loadGeneratorUs / 10_000 / seconds,
  };
}
