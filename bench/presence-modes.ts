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
} as const;

/** `READY {"pid":…,"port":…}` once the node listens. */
export const READY_PREFIX = 'READY ';
/** `STATS {…}` in answer to a `stats` line on stdin. */
export const STATS_PREFIX = 'STATS ';
export const STATS_COMMAND = 'stats';

export type ServerStats = {
  heartbeats: number;
  flushes: number;
  flushedRows: number;
  liveSessions: number;
  heapUsedBytes: number;
};
