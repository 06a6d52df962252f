// Configuration: the only reader of process.env. Every setting is validated at
// start, so a bad value stops the process with a message naming the variable.
// The timing knobs of the presence model live here, each with its meaning.
import { z } from 'zod';

const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

const schema = z.object({
  /** Read by Next.js and React, not by Switchboard: validated here so that a typo (`prod`) stops the start. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  /** TCP port of the HTTP server (pages, /api/trpc over HTTP and WebSocket). */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to listen on. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** External PostgreSQL; unset means an embedded PostgreSQL under DATA_DIR. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
    .optional(),
  /** Where the embedded PostgreSQL keeps its files. */
  DATA_DIR: z.string().min(1).default('./.data'),
  /** `demo` seeds the demo workspace into an empty database; `none` never seeds. */
  SEED: z.enum(['demo', 'none']).default('demo'),
  /**
   * Connections of the node's main pool (requests, the sweep). The node opens about 11 more: 2 for
   * its liveness and heartbeat flush, 4 for routing, 4 for pg-boss, 1 to LISTEN. PostgreSQL's
   * max_connections (100 by default) must cover every node's total.
   */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(1_000).default(10),
  /** A name for this node in logs and the nodes table; defaults to host:port. */
  NODE_NAME: z.string().min(1).max(200).optional(),

  /** How often a device says it is still there. */
  HEARTBEAT_INTERVAL_MS: ms(15_000),
  /** A session with no heartbeat for this long is ended (`timeout`). */
  SESSION_TTL_MS: ms(45_000),
  /** A closed socket's session survives this long, so a reload does not flap. */
  DISCONNECT_GRACE_MS: ms(5_000),
  /** A device with no user input for this long reports `idle`. */
  IDLE_AFTER_MS: ms(300_000),
  /** How often a node renews its row in `nodes`. */
  NODE_HEARTBEAT_MS: ms(5_000),
  /** A node silent this long is dead; its sessions end (`node_lost`). */
  NODE_TIMEOUT_MS: ms(15_000),
  /** An offered ticket not accepted in time goes back to the queue. */
  OFFER_TIMEOUT_MS: ms(30_000),
  /** Offers an agent lets time out in a row before routing sets them away (`missed_offers`). */
  MISSED_OFFERS_LIMIT: z.coerce.number().int().min(1).max(100).default(2),
  /** An accepted ticket goes back to its queue once its agent has been away or offline this long; 0 never. */
  ASSIGNED_REQUEUE_AFTER_MS: z.coerce.number().int().min(0).default(0),
  /**
   * Tickets one node creates at once; a create beyond this is refused with TOO_MANY_REQUESTS
   * (HTTP 429, Retry-After: 1) instead of queueing behind the others.
   */
  CREATES_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(16),
  /** How often each node's routing safety net runs (overdue offers, abandoned tickets, waiting queues). */
  ROUTING_SWEEP_MS: ms(5_000),
  /** A failed webhook delivery is retried after about this long, doubling (with jitter) each time; whole seconds. */
  WEBHOOK_RETRY_DELAY_MS: z.coerce.number().int().min(1_000).default(10_000),
  /** ...but never waits longer than this between two attempts. */
  WEBHOOK_RETRY_MAX_DELAY_MS: z.coerce.number().int().min(1_000).default(3_600_000),
  /** How often each node's webhook safety net runs (events no job was queued for, tickets whose retries ran out). */
  WEBHOOK_SWEEP_MS: ms(30_000),
  /** WebSocket keep-alive: a ping every this often... */
  WS_PING_MS: ms(10_000),
  /** ...and a socket that does not answer within this is terminated. */
  WS_PONG_WAIT_MS: ms(5_000),
  /** A browser sign-in ends this long after it was made, however active (absolute expiry). */
  AUTH_SESSION_TTL_MS: ms(7 * 24 * 3600_000),
  /** A browser sign-in not used for this long ends (idle expiry); an open tab's heartbeats count as use. */
  AUTH_SESSION_IDLE_MS: ms(12 * 3600_000),

  /** Failed sign-ins to one account within LOGIN_THROTTLE_WINDOW_MS before sign-ins to it are refused for LOGIN_THROTTLE_WINDOW_MS. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(10_000).default(10),
  /** Failed sign-ins from one client address within the window before sign-ins from it are refused for the window's length. */
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(50),
  /** The window over which failed sign-ins are counted, and how long a throttled account or address waits. */
  LOGIN_THROTTLE_WINDOW_MS: ms(15 * 60_000),
  /**
   * `true` when the node runs behind a reverse proxy that sets X-Forwarded-For, -Proto and -Host:
   * the client's address and origin are then read from them. Never set it when clients reach the node directly.
   */
  TRUST_PROXY: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /**
   * Origins, besides the node's own, whose pages may open WebSockets and send signed-in changes
   * (comma-separated, e.g. `https://desk.example.com`). Usually unset.
   */
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean)),
  /** The largest WebSocket message a client may send; a larger one closes that socket (1009). */
  WS_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  /** Messages a second one WebSocket may send, sustained; beyond it they are refused (TOO_MANY_REQUESTS)... */
  WS_MESSAGES_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(50),
  /** ...after a burst of this many; a socket that keeps on past the limit for WS_FLOOD_CLOSE_MS is closed (1008). */
  WS_MESSAGE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
  /** How long a WebSocket may keep sending past its limit before it is closed. */
  WS_FLOOD_CLOSE_MS: ms(1_000),
  /** The largest HTTP request body /api/trpc reads; larger ones are refused (413). */
  HTTP_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),

  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it is open (keep the port internal). */
  METRICS_TOKEN: z.string().min(16).max(500).optional(),
  /** Presence history (status changes, ended device sessions) is deleted after this many days. */
  PRESENCE_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(90),
  /** The audit log is deleted after this many days. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(365),
});

export type Env = z.infer<typeof schema>;

export class EnvError extends Error {
  override name = 'EnvError';
}

/** Parses and validates a set of variables (process.env by default). */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  // An empty variable means "unset", as shells and .env files usually intend.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '?');
      return `${key}=${JSON.stringify(source[key] ?? '')}: ${issue.message}`;
    });
    throw new EnvError(`invalid configuration: ${lines.join('; ')}`);
  }
  const env = result.data;
  if (env.SESSION_TTL_MS <= env.HEARTBEAT_INTERVAL_MS) {
    throw new EnvError(
      `invalid configuration: SESSION_TTL_MS=${env.SESSION_TTL_MS} must be longer than HEARTBEAT_INTERVAL_MS=${env.HEARTBEAT_INTERVAL_MS}`,
    );
  }
  if (env.NODE_TIMEOUT_MS <= env.NODE_HEARTBEAT_MS) {
    throw new EnvError(
      `invalid configuration: NODE_TIMEOUT_MS=${env.NODE_TIMEOUT_MS} must be longer than NODE_HEARTBEAT_MS=${env.NODE_HEARTBEAT_MS}`,
    );
  }
  return env;
}

/** The presence timing knobs, as the engine and the client need them. */
export type Timing = Pick<
  Env,
  | 'HEARTBEAT_INTERVAL_MS'
  | 'SESSION_TTL_MS'
  | 'DISCONNECT_GRACE_MS'
  | 'IDLE_AFTER_MS'
  | 'NODE_HEARTBEAT_MS'
  | 'NODE_TIMEOUT_MS'
>;
