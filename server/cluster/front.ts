// A small round-robin front for a local cluster (`npm run cluster`): one port
// that hands each HTTP request and each WebSocket upgrade to the next node in
// turn, as a load balancer in front of a deployment would. A node that
// refuses connections (stopped, killed) is skipped for BACKEND_REST_MS and the
// request goes to the next one; a connection already handed to a node that
// dies is cut, and its client reconnects (to another node, through here).
//
// The Host header passes through unchanged and X-Forwarded-For / -Proto are
// set, so nodes run with TRUST_PROXY=true see each client's own address and
// judge the Origin of pages served through this front as their own.
// Not for production: no TLS, no health checks beyond refused connections.
import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export type Backend = { host: string; port: number };

/** How long a node that refused a connection is left out of the rotation. */
const BACKEND_REST_MS = 1_000;
/** The largest request body the front holds (the nodes' own limit, HTTP_MAX_BODY_BYTES, is lower by default). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export type Front = {
  port: number;
  url: string;
  /** Connections handed to each backend so far (HTTP requests and upgrades), in backend order. */
  counts: () => number[];
  stop: () => Promise<void>;
};

export async function startFront(options: { backends: Backend[]; port: number; host?: string }): Promise<Front> {
  const { backends } = options;
  const restingUntil = backends.map(() => 0);
  const counts = backends.map(() => 0);
  let next = 0;

  /** The backends to try for one connection, in turn, starting with the next in rotation. */
  function order(): number[] {
    const now = Date.now();
    const all = backends.map((_, i) => (next + i) % backends.length);
    next = (next + 1) % backends.length;
    const awake = all.filter((i) => restingUntil[i]! <= now);
    return awake.length ? [...awake, ...all.filter((i) => restingUntil[i]! > now)] : all;
  }
  const rest = (i: number) => (restingUntil[i] = Date.now() + BACKEND_REST_MS);

  function forwardedHeaders(req: IncomingMessage): OutgoingHttpHeaders {
    const prior = req.headers['x-forwarded-for'];
    const address = req.socket.remoteAddress ?? '';
    return {
      ...req.headers,
      'x-forwarded-for': prior ? `${String(prior)}, ${address}` : address,
      'x-forwarded-proto': 'http',
    };
  }

  const server: Server = createServer((req, res) => {
    // The body is read first (bounded), so that a request refused by one node can go whole to the next.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('request body too large\n');
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const tries = order();
      const attempt = (k: number) => {
        const i = tries[k]!;
        const upstream = request(
          { host: backends[i]!.host, port: backends[i]!.port, method: req.method, path: req.url, headers: forwardedHeaders(req) },
          (answer) => {
            counts[i]! += 1;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          // Sent again, whole, to the next node only when this one cannot have acted on it: the
          // connection was refused, or a kept-alive connection turned out dead (Node's own advice
          // for retrying on a reused socket) — the node died since the last request on it.
          const refused = error.code === 'ECONNREFUSED';
          const deadReuse = upstream.reusedSocket && error.code === 'ECONNRESET';
          if ((refused || deadReuse) && k + 1 < tries.length && !res.headersSent) {
            if (refused) rest(i);
            attempt(k + 1);
          } else if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'text/plain' }).end('no node answered\n');
          } else {
            res.destroy();
          }
        });
        upstream.end(body);
      };
      attempt(0);
    });
  });

  // Upgraded sockets are the front's own to end on stop: the HTTP server no longer manages them.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    upgraded.add(client);
    client.once('close', () => upgraded.delete(client));
    const tries = order();
    const attempt = (k: number) => {
      const i = tries[k]!;
      const upstream = connect(backends[i]!.port, backends[i]!.host);
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        counts[i]! += 1;
        // The upgrade request as it came, with the forwarding headers, then both ways as bytes.
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (const [name, value] of Object.entries(forwardedHeaders(req))) {
          for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) lines.push(`${name}: ${String(one)}`);
        }
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (!connected && error.code === 'ECONNREFUSED' && k + 1 < tries.length) {
          rest(i);
          attempt(k + 1);
        } else client.destroy();
      });
      upstream.on('close', () => {
        if (connected) client.destroy();
      });
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    };
    attempt(0);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    url: `http://${options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1'}:${port}`,
    counts: () => [...counts],
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }),
  };
}
