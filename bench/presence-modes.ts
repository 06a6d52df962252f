// What bench/presence.ts and bench/presence-server.ts agree on: the ways the
// node under test stores heartbeats, the environment that picks one, and the
// lines the server process prints on stdout.

export const MODES = ['batched', 'upsert', 'redis'] as const;
export type Mode = (typeof MODES)[number];

/** How each mode appears in the report. */
export const MODE_LABELS: Record<Mode, string> = {
  batched: 'batched (product)',
  upsert: 'UPSERT per heartbeat',
  redis: 'Redis ZADD per heartbeat',
};

/** Environment of the server process. */
export const SERVER_ENV = {
  mode: 'BENCH_MODE',
  databaseUrl: 'BENCH_DATABASE_URL',
  redisUrl: 'BENCH_REDIS_URL',
  redisKey: 'BENCH_REDIS_KEY',
  /** NODE_NAME of the node; unset: `bench-<mode>`. */
  nodeName: 'BENCH_NODE_NAME',
} as const;

/** The lines the server process prints: READY once listening, STATS on request. */
export { READY_PREFIX, STATS_COMMAND, STATS_PREFIX } from './lib/server-process';

export type ServerStats = {
  heartbeats: number;
  flushes: number;
  flushedRows: number;
  liveSessions: number;
  heapUsedBytes: number;
};
