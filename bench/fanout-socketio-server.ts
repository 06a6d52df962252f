// The fan-out benchmark's baseline: one Socket.IO 4 server, as a small app
// built the usual way would do the job, run twice (two processes) joined by
// @socket.io/postgres-adapter (pg_notify between servers, on one pg Pool).
// - A socket signs in with the same browser sign-in token the product's
//   cookie carries (one query at connection: user, role, teams).
// - An agent's `setStatus` writes the change with one UPDATE of its
//   agent_presence row (version + 1, RETURNING the row), broadcasts the full
//   roster row to room `roster` on every server, then acknowledges.
// - A supervisor's `watch` joins room `roster` and acknowledges.
// No event log, no snapshot, no resume: Socket.IO delivers at most once.
// Speaks bench/lib/server-process.ts's protocol: READY, STATS, SIGTERM.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import { Server, type Socket } from 'socket.io';
import { hashToken } from '../server/auth/service';
import { READY_PREFIX, STATS_COMMAND, STATS_PREFIX } from './lib/server-process';
import { SERVER_ENV } from './presence-modes';

/** What `stats` answers (import it as a type only: importing this file starts a server). */
export type SocketIoStats = { sockets: number; changes: number; failedChanges: number };

const STATUSES = new Set(['available', 'busy', 'away', 'offline']);
const STOP_DEADLINE_MS = 10_000;

type User = { id: string; name: string; email: string; role: string; teamIds: string[]; teams: string[] };
type Answer = { changed: true; status: string; version: number } | { error: string };

async function main(): Promise<void> {
  const databaseUrl = process.env[SERVER_ENV.databaseUrl];
  if (!databaseUrl) throw new Error(`${SERVER_ENV.databaseUrl} is not set`);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, application_name: 'bench-socketio' });
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  io.adapter(createAdapter(pool, { errorHandler: (error) => process.stderr.write(`postgres adapter: ${error.message}\n`) }));
  const stats: SocketIoStats = { sockets: 0, changes: 0, failedChanges: 0 };

  io.use((socket, next) => {
    const token: unknown = socket.handshake.auth.token;
    if (typeof token !== 'string') return next(new Error('unauthorized'));
    signedIn(pool, token).then(
      (user) => {
        if (!user) return next(new Error('unauthorized'));
        socket.data.user = user;
        next();
      },
      (error: unknown) => next(error instanceof Error ? error : new Error(String(error))),
    );
  });

  io.on('connection', (socket: Socket) => {
    const user = socket.data.user as User;
    if (user.role === 'agent') {
      socket.on('setStatus', (status: unknown, ack: unknown) => {
        if (typeof ack !== 'function') return;
        const reply = ack as (answer: Answer) => void;
        if (typeof status !== 'string' || !STATUSES.has(status)) return reply({ error: 'status: expected available, busy, away or offline' });
        setStatus(pool, user, status).then(
          (row) => {
            stats.changes += 1;
            io.to('roster').emit('agent', { type: 'agent', row });
            reply({ changed: true, status: row.status, version: row.version });
          },
          (error: unknown) => {
            stats.failedChanges += 1;
            process.stderr.write(`setStatus failed: ${error instanceof Error ? error.message : String(error)}\n`);
            reply({ error: 'internal error' });
          },
        );
      });
    } else {
      socket.on('watch', (ack: unknown) => {
        void socket.join('roster');
        if (typeof ack === 'function') (ack as () => void)();
      });
    }
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ pid: process.pid, port })}\n`);

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`socket.io server: stop (${reason}) took over ${STOP_DEADLINE_MS} ms, exiting\n`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    void (async () => {
      await io.close(); // closes the http server and the adapter (its LISTEN client)
      await pool.end();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line.trim() !== STATS_COMMAND) return;
    stats.sockets = io.engine.clientsCount;
    process.stdout.write(`${STATS_PREFIX}${JSON.stringify(stats)}\n`);
  });
  commands.on('close', () => stop('stdin closed'));
}

/** The user of a live sign-in, with the teams a roster row names (as the product's roster does). */
async function signedIn(pool: pg.Pool, token: string): Promise<User | undefined> {
  const { rows } = await pool.query<User>(
    `select u.id, u.name, u.email, u.role::text as role,
            coalesce(array_agg(t.id::text order by t.name) filter (where t.id is not null), '{}') as "teamIds",
            coalesce(array_agg(t.name order by t.name) filter (where t.id is not null), '{}') as teams
       from auth_sessions s join users u on u.id = s.user_id
       left join team_members tm on tm.user_id = u.id and tm.role = 'agent'
       left join teams t on t.id = tm.team_id
      where s.id = $1 and s.expires_at > now()
      group by u.id`,
    [hashToken(token)],
  );
  return rows[0];
}

/** One UPDATE: the agent's chosen and shown status, a new version; returns the full roster row. */
async function setStatus(pool: pg.Pool, user: User, status: string) {
  const { rows } = await pool.query<{ status: string; reason: string; since: Date; devices: number; version: number; lastSeenAt: Date | null }>(
    `update agent_presence
        set manual_status = $2, manual_reason = 'manual', status = $2, reason = 'manual', since = now(), version = version + 1
      where agent_id = $1
      returning status::text, reason::text, since, devices, version, last_seen_at as "lastSeenAt"`,
    [user.id, status],
  );
  const row = rows[0];
  if (!row) throw new Error(`no presence row for agent ${user.id}`);
  return {
    agentId: user.id,
    name: user.name,
    email: user.email,
    teamIds: user.teamIds,
    teams: user.teams,
    status: row.status,
    reason: row.reason,
    since: row.since.toISOString(),
    devices: row.devices,
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    forcedBy: null,
    note: null,
    version: row.version,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`socket.io server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
