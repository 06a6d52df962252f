// One Switchboard node: database (external or embedded), migrations, seed,
// pg-boss, the presence engine, the fan-out hub, and one HTTP server that
// serves /api/trpc itself (HTTP via tRPC's Node adapter, WebSocket via `ws`)
// and hands every other request — and every other upgrade — to Next.js.
// start and stop are each safe to call once; stop undoes whatever start did,
// in reverse, even when start failed half-way.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { createDb, createSql } from '../db/client';
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded';
import { runMigrations } from '../db/migrate';
import { seedDemo } from '../db/seed';
import type { Env } from './env';
import { readCookie, hashToken, SESSION_COOKIE } from './auth/service';
import { LoginThrottledError } from './auth/throttle';
import { startJobs } from './jobs/boss';
import { startPresenceSweep } from './jobs/presence-sweep';
import { startRetention } from './jobs/retention';
import type { Logger } from './log';
import { PresenceEngine } from './presence/engine';
import { Hub } from './realtime/hub';
import { readiness } from './ops/health';
import { assignRequestId } from './ops/request-id';
import { createMetrics, serveMetrics } from './ops/metrics';
import { nodeStats, type NodeStats } from './ops/stats';
import { Router } from './routing/router';
import { startWebhooks } from './webhooks/dispatcher';
import { bearerToken, hashKey, KeyCache } from './auth/api-keys';
import { securityHeaders } from './security/headers';
import { originOf } from './security/request';
import { guardMessages } from './security/ws-guard';
import { SubscriptionRequests } from './realtime/frames';
import { SocketRegistry } from './realtime/sockets';
import type { Services } from './services';
import { httpContextFactory, wsContextFactory } from './trpc/context';
import { LIVE_VIEW_PATHS } from './trpc/routers/roster';
import { appRouter } from './trpc/router';

export const TRPC_PATH = '/api/trpc';

export class StartupError extends Error {
  override name = 'StartupError';
}

export type NodeOptions = {
  env: Env;
  log: Logger;
  /** Serve the Next.js pages (off for API-only integration tests). */
  pages?: { dev: boolean; dir: string } | false;
  /** Benchmark baselines only: see PresenceEngine's heartbeatSink. */
  heartbeatSink?: (sessionId: string, at: Date) => Promise<void>;
};

export type RunningNode = {
  port: number;
  url: string;
  nodeId: string;
  databaseUrl: string;
  embedded: EmbeddedPostgres | undefined;
  services: Services;
  stop: () => Promise<void>;
};

const isTrpcPath = (url: string | undefined) => {
  const path = (url ?? '').split('?')[0] ?? '';
  return path === TRPC_PATH || path.startsWith(`${TRPC_PATH}/`);
};

/**
 * The subscriptions an HTTP request to /api/trpc names, if any. Subscriptions
 * are served over the WebSocket only (docs/api.md): tRPC would otherwise
 * answer one over HTTP with a server-sent event stream, outside the socket's
 * message budget and the node's count of its live views and subscribers.
 */
function httpSubscriptions(url: string | undefined): string[] {
  let path: string;
  try {
    path = decodeURIComponent((url ?? '').split('?')[0] ?? '').slice(TRPC_PATH.length + 1);
  } catch {
    return []; // a malformed escape (`%E0`) names no procedure; tRPC answers it (a throw here would end the process)
  }
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } } | undefined>;
  return path.split(',').filter((name) => procedures[name]?._def.type === 'subscription');
}

/** Fails fast, before any heavy start-up, when the port is taken. */
function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          error.code === 'EADDRINUSE' ? `port ${port} is already in use (set PORT to another port)` : `cannot listen on ${host}:${port}: ${error.message}`,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const { env, log } = options;
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    while (cleanups.length) {
      const cleanup = cleanups.pop();
      try {
        await cleanup?.();
      } catch (error) {
        log.error('stop step failed', { error });
      }
    }
  };

  try {
    await checkPortFree(env.PORT, env.HOST);

    // Database: external, or embedded under DATA_DIR.
    let databaseUrl = env.DATABASE_URL;
    let embedded: EmbeddedPostgres | undefined;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: env.DATA_DIR, log: (line) => log.info(line) });
      cleanups.push(() => embedded?.stop());
      await ensureDatabase(embedded.url('postgres'), 'switchboard');
      databaseUrl = embedded.url('switchboard');
      log.info('embedded postgres started', { port: embedded.port, dataDir: embedded.dataDir });
    }
    try {
      await runMigrations(databaseUrl);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new StartupError(`cannot use the database at ${redact(databaseUrl)}: ${detail}`);
    }

    const sql = createSql(databaseUrl, { max: env.DATABASE_POOL_SIZE, name: 'main' });
    cleanups.push(() => sql.end({ timeout: 5 }));
    const db = createDb(sql);
    // Apart from the request pool: the node's liveness and heartbeat flush, and routing's claims.
    const controlSql = createSql(databaseUrl, { max: 2, name: 'control' });
    cleanups.push(() => controlSql.end({ timeout: 5 }));
    const routingSql = createSql(databaseUrl, { max: 4, name: 'routing' });
    cleanups.push(() => routingSql.end({ timeout: 5 }));

    if (env.SEED === 'demo') {
      const logins = await seedDemo(db);
      if (logins.length) {
        // The demo password is published (README, db/seed.ts); it is not logged all the same.
        log.info('seeded the demo workspace (demo-only logins; their password is in the README)', {
          logins: logins.map((l) => `${l.email} (${l.role}${l.team ? `, ${l.team}` : ''})`),
        });
      }
    }

    const jobs = await startJobs({ databaseUrl, log });
    cleanups.push(() => jobs.stop());

    const nodeId = randomUUID();
    const nodeName = env.NODE_NAME ?? `${hostname()}:${env.PORT}`;
    // The socket server comes later; until it exists there are no connections to count or close.
    let connections = () => 0;
    let closeSockets = () => {};
    const stats = (): NodeStats => nodeStats({ engine, hub, connections: () => connections() });
    // Read when scraped, by when the router exists.
    let routerOf: () => Router | undefined = () => undefined;
    const metrics = createMetrics({ db, stats, router: () => routerOf() });
    const engine = new PresenceEngine({
      db,
      nodeId,
      nodeName,
      timing: env,
      log,
      heartbeatSink: options.heartbeatSink,
      reportStats: stats,
      controlDb: createDb(controlSql),
      onLostDatabase: () => closeSockets(),
      observeFlush: metrics.observeFlush,
    });
    const hub = new Hub({ sql, db, log, observeDelivery: metrics.observeDelivery });
    await hub.start();
    cleanups.push(() => hub.stop());
    await engine.start();
    cleanups.push(() => engine.stop());
    const sweep = await startPresenceSweep({ boss: jobs.boss, sql, db, timing: env, signInIdleMs: env.AUTH_SESSION_IDLE_MS, log });
    cleanups.push(() => sweep.stop());
    const retention = await startRetention({ boss: jobs.boss, db, env, log });
    cleanups.push(() => retention.stop());
    const router = new Router({
      db,
      routingDb: createDb(routingSql),
      hub,
      boss: jobs.boss,
      log,
      settings: {
        offerTimeoutMs: env.OFFER_TIMEOUT_MS,
        missedOffersLimit: env.MISSED_OFFERS_LIMIT,
        assignedRequeueAfterMs: env.ASSIGNED_REQUEUE_AFTER_MS,
        sweepMs: env.ROUTING_SWEEP_MS,
        createsInFlight: env.CREATES_IN_FLIGHT,
      },
      hosts: (agentId) => engine.hosts(agentId),
      observeCreate: metrics.observeCreate,
    });
    await router.start();
    cleanups.push(() => router.stop());
    routerOf = () => router;
    const webhooks = await startWebhooks({ db, hub, boss: jobs.boss, log, settings: env });
    cleanups.push(() => webhooks.stop());
    const sockets = new SocketRegistry();
    const keys = new KeyCache(db);
    hub.onControl((message) => {
      if (message.k === 'ended') engine.endedElsewhere(message.s, { reason: message.r });
      else if (message.k === 'signout') sockets.closeSignedOut(message.h);
      else if (message.k === 'keys') {
        keys.forget();
        sockets.closeRevoked(message.h ?? []);
      }
    });
    const subscriptions = new SubscriptionRequests(new Set(LIVE_VIEW_PATHS));
    const services: Services = { db, env, log, engine, hub, router, keys, subscriptions, stats };

    // Pages.
    let nextRequest: ((req: IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>) | undefined;
    let nextUpgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
    if (options.pages) {
      const { default: next } = await import('next');
      // Next attaches its own upgrade listener (dev HMR included) to the server it
      // is given, on its first request, and ends WebSocket upgrades whose path
      // matches a page. Give it a server that never listens, and forward to it
      // only the upgrades that are not tRPC's.
      const decoy = createServer();
      process.env.NEXT_TELEMETRY_DISABLED ??= '1'; // a self-hosted service does not phone home
      const app = next({ dev: options.pages.dev, dir: options.pages.dir, httpServer: decoy, quiet: !options.pages.dev });
      await app.prepare();
      cleanups.push(() => app.close());
      nextRequest = app.getRequestHandler();
      nextUpgrade = (req, socket, head) => {
        if (decoy.listenerCount('upgrade') === 0) socket.destroy();
        else decoy.emit('upgrade', req, socket, head);
      };
    }

    // tRPC over HTTP and WebSocket.
    const onError = ({ error, path, ctx }: { error: { code: string; message: string; cause?: unknown }; path?: string; ctx?: { requestId?: string } }) => {
      if (error.code !== 'INTERNAL_SERVER_ERROR') return;
      // ws reports an oversized message as a socket error; the socket is closed (1009), and it was the client's doing.
      if (error.cause instanceof RangeError && error.cause.message === 'Max payload size exceeded') {
        log.warn('a WebSocket message over WS_MAX_PAYLOAD_BYTES closed its socket');
        return;
      }
      log.error('procedure failed', { path, requestId: ctx?.requestId, error: error.cause ?? error.message });
    };
    const trpcHttp = createHTTPHandler({
      router: appRouter,
      basePath: `${TRPC_PATH}/`,
      createContext: httpContextFactory(services),
      onError,
      maxBodySize: env.HTTP_MAX_BODY_BYTES,
      // A batch is one request doing many procedures' work: bounded like a body.
      maxBatchSize: 50,
      // A node too busy to create another ticket says when to try again.
      responseMeta: ({ errors }) => {
        const busy = errors.filter((e) => e.code === 'TOO_MANY_REQUESTS');
        if (!busy.length) return {};
        const wait = Math.max(1, ...busy.map((e) => (e.cause instanceof LoginThrottledError ? e.cause.retryAfterSeconds : 1)));
        return { headers: { 'retry-after': String(wait) } };
      },
    });
    // A larger message closes its socket (1009) and only that socket.
    const wss = new WebSocketServer({ noServer: true, maxPayload: env.WS_MAX_PAYLOAD_BYTES });
    connections = () => wss.clients.size;
    // The engine let go of its sessions (decision 035): every client reconnects, through the front, to a node that can resume them.
    closeSockets = () => {
      for (const client of wss.clients) client.close(1012, 'node lost its database');
    };
    const wsHandler = applyWSSHandler({
      wss,
      router: appRouter,
      createContext: wsContextFactory(services),
      keepAlive: { enabled: true, pingMs: env.WS_PING_MS, pongWaitMs: env.WS_PONG_WAIT_MS },
      onError,
    });

    const server: Server = createServer((req, res) => {
      assignRequestId(req, res);
      const api = isTrpcPath(req.url);
      securityHeaders(req, res, { dev: options.pages ? options.pages.dev : false, settings: env, api });
      if (api) {
        const subscriptions = httpSubscriptions(req.url);
        if (subscriptions.length === 0) return trpcHttp(req, res);
        const message = `${subscriptions.join(', ')}: a subscription, served over a WebSocket to ${TRPC_PATH} only`;
        const error = { message, code: -32005, data: { code: 'METHOD_NOT_SUPPORTED', httpStatus: 405, path: subscriptions[0] } };
        return void res.writeHead(405, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
      }
      if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (req.url === '/readyz') {
        void readiness({ db, hub, boss: jobs.boss, engine }).then((answer) =>
          res.writeHead(answer.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(answer)),
        );
        return;
      }
      if (req.url === '/metrics') return void serveMetrics(req, res, metrics.registry, env.METRICS_TOKEN, log);
      if (nextRequest) return void nextRequest(req, res);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    });
    server.on('upgrade', (req, socket, head) => {
      assignRequestId(req); // the connection's id, for every procedure called over it
      if (isTrpcPath(req.url)) {
        // Cross-site WebSocket hijacking: a page of another site may open a socket
        // here, and the browser would send our cookie with it. Browsers always say
        // where a socket comes from; clients without an Origin are not browsers.
        if (originOf(req, env) === 'foreign') {
          socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nforeign Origin\n');
          return;
        }
        // Cut off from its database (decision 035), the node has closed its sockets; a client that
        // comes straight back would cost it a database connection attempt and an error line for its
        // sign-in, every 100 ms per tab, until the database returns. Refused here, it costs nothing.
        if (engine.cutOff) {
          socket.end('HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nthis node cannot reach its database\n');
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          guardMessages(ws, env); // first: it filters what every later listener hears
          const key = bearerToken(req.headers.authorization);
          const token = readCookie(req.headers.cookie, SESSION_COOKIE);
          if (key) sockets.addKey(hashKey(key), ws);
          else if (token) sockets.add(hashToken(token), ws);
          subscriptions.watch(ws); // before tRPC's listener: see server/realtime/frames.ts
          wss.emit('connection', ws, req);
        });
      } else if (nextUpgrade) {
        nextUpgrade(req, socket, head);
      } else {
        socket.destroy();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new StartupError(error.code === 'EADDRINUSE' ? `port ${env.PORT} is already in use (set PORT to another port)` : error.message)),
      );
      server.listen(env.PORT, env.HOST, () => resolve());
    });
    cleanups.push(async () => {
      // Ask clients to reconnect (to this node's successor or another node),
      // then stop accepting and close what is left.
      wsHandler.broadcastReconnectNotification();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const client of wss.clients) client.close(1012, 'server restarting');
        server.closeAllConnections();
        setTimeout(() => {
          for (const client of wss.clients) client.terminate();
          resolve();
        }, 1_000).unref();
      });
      wss.close();
    });

    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : env.PORT;
    const shownHost = env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST;
    let stopped: Promise<void> | undefined;
    return {
      port,
      url: `http://${shownHost}:${port}`,
      nodeId,
      databaseUrl,
      embedded,
      services,
      stop: () => (stopped ??= stop()),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
