// The Switchboard node under test, as its own process (started by
// bench/presence.ts, so the load generator's work is not counted as the
// server's). BENCH_MODE picks how heartbeats are stored:
// - batched: the product (no heartbeatSink; one UPDATE a second for all);
// - upsert:  one `update device_sessions set last_seen_at` per heartbeat;
// - redis:   one `ZADD <key> <epoch-ms> <sessionId>` per heartbeat.
// Prints `READY {pid, port}` once listening, answers `stats` on stdin with
// `STATS {…}`, and stops on SIGTERM (or when stdin closes).
import { createInterface } from 'node:readline';
import { createClient } from 'redis';
import { loadEnv } from '../server/env';
import { startAllocationProfile } from './lib/allocation-profile';
import { createLogger } from '../server/log';
import { startNode, type RunningNode } from '../server/node';
import {
  MODES,
  READY_PREFIX,
  SERVER_ENV,
  STATS_COMMAND,
  STATS_PREFIX,
  type Mode,
  type ServerStats,
} from './presence-modes';

const STOP_DEADLINE_MS = 20_000;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const mode = required(SERVER_ENV.mode) as Mode;
  if (!MODES.includes(mode)) throw new Error(`${SERVER_ENV.mode}=${mode}: expected one of ${MODES.join(', ')}`);

  const env = loadEnv({
    DATABASE_URL: required(SERVER_ENV.databaseUrl),
    PORT: '0',
    HOST: '127.0.0.1',
    SEED: 'none',
    NODE_NAME: process.env[SERVER_ENV.nodeName] || `bench-${mode}`,
    // With Redis holding presence, nothing writes last_seen_at, so the
    // database sweep would end every session after the lease; in that
    // design the lease lives in Redis instead.
    ...(mode === 'redis' ? { SESSION_TTL_MS: String(24 * 3600_000) } : {}),
  });
  const log = createLogger({ node: `bench-${mode}` }, true);

  const redis =
    mode === 'redis'
      ? createClient({ url: required(SERVER_ENV.redisUrl), socket: { reconnectStrategy: false } })
      : undefined;
  redis?.on('error', (error: unknown) => log.error('redis client error', { error }));
  await redis?.connect();
  const redisKey = mode === 'redis' ? required(SERVER_ENV.redisKey) : '';

  // The upsert sink needs the node's own postgres.js pool, which exists once the node has started.
  const started: { node?: RunningNode } = {};
  let heartbeatSink: ((sessionId: string, at: Date) => Promise<void>) | undefined;
  if (mode === 'redis' && redis) {
    heartbeatSink = async (sessionId, at) => {
      await redis.zAdd(redisKey, { score: at.getTime(), value: sessionId });
    };
  } else if (mode === 'upsert') {
    heartbeatSink = async (sessionId, at) => {
      const sql = started.node?.services.db.$client;
      if (!sql) throw new Error('node not started');
      // The node's drizzle setup passes dates through as strings, so send one.
      await sql`update device_sessions set last_seen_at = ${at.toISOString()}::timestamptz where id = ${sessionId}::uuid`;
    };
  }

  const writeAllocationProfile = await startAllocationProfile();
  const node = await startNode({ env, log, pages: false, heartbeatSink });
  started.node = node;
  const { engine } = node.services;
  if (heartbeatSink) {
    // The engine also counts any socket message (keep-alive answers, the
    // heartbeat mutation itself) as "seen" and batches that into its flush,
    // sink or not; a baseline without a batcher must not have it.
    engine.seen = () => undefined;
  }
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ pid: process.pid, port: node.port })}\n`);

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`presence-server: stop (${reason}) took over ${STOP_DEADLINE_MS} ms, exiting\n`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    void (async () => {
      let code = 0;
      try {
        await node.stop();
        await writeAllocationProfile?.();
      } catch (error) {
        log.error('stopping the node failed', { error });
        code = 1;
      }
      await redis?.quit().catch(() => undefined);
      process.exit(code);
    })();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line.trim() !== STATS_COMMAND) return;
    const stats: ServerStats = {
      ...engine.stats,
      liveSessions: engine.liveSessions,
      heapUsedBytes: process.memoryUsage().heapUsed,
    };
    process.stdout.write(`${STATS_PREFIX}${JSON.stringify(stats)}\n`);
  });
  commands.on('close', () => stop('stdin closed'));
}

main().catch((error: unknown) => {
  process.stderr.write(`presence-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
