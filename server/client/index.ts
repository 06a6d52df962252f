// The typed client for integrators (ticketing systems), `switchboard/client`:
// queries and mutations over HTTP, subscriptions over one WebSocket, both
// carrying the API key; the socket reconnects by itself with the pages' backoff
// (./retry), and followTicketEvents resumes the ticket feed from the last event
// it delivered, each event once and in order. Once the server says the key is
// no longer valid (revoked or expired) the client ends: no more reconnects, and
// every subscription and later call fails with that error. For Node (the key
// travels in an Authorization header, which browsers cannot set on a WebSocket
// — and an API key must never reach a browser anyway).
import {
  createTRPCClient,
  createWSClient,
  httpLink,
  splitLink,
  TRPCClientError,
  wsLink,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import WebSocket from 'ws';
import type { TicketDelta } from '../../db/queries/tickets';
import { KEY_REVOKED_CLOSE_CODE, SIGNED_OUT_CLOSE_CODE } from '../realtime/sockets';
import type { AppRouter } from '../trpc/router';
import { reconnectDelayMs } from './retry';

export { reconnectDelayMs, RECONNECT_BASE_MS, RECONNECT_MAX_MS } from './retry';
export {
  verifyWebhookSignature,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  DELIVERY_HEADER,
  EVENT_HEADER,
} from '../webhooks/signature';
export { TRPCClientError };
export type { AppRouter, TicketDelta };

/**
 * With no message from the server for this long (it pings every WS_PING_MS,
 * 10 s by default), the client pings it...
 */
const KEEPALIVE_INTERVAL_MS = 15_000;
/** ...and takes the connection for dead, and reconnects, without an answer within this. */
const KEEPALIVE_PONG_WAIT_MS = 5_000;
/** A connection attempt that gets no answer to its upgrade within this fails, and the next one is made. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * A closing socket whose server does not answer the close within this is dropped (ws waits 30 s
 * by default): tRPC closes a socket whose server stopped answering pings, and only once it is
 * closed does it reconnect.
 */
const CLOSE_WAIT_MS = 2_000;
/**
 * The socket stays open this long after the last subscription ends, in case another follows.
 * Not 0: tRPC re-arms this timer each time it fires while a subscription is open, so at 0 it
 * fires about a thousand times a second for as long as the client follows anything.
 */
const IDLE_CLOSE_MS = 10_000;

export type SwitchboardClientOptions = {
  /** The server's base URL, e.g. `https://switchboard.example.com` (the API is at `/api/trpc` under it). */
  url: string;
  /** `sbk_…`, sent as `Authorization: Bearer <key>` on every request and on the WebSocket upgrade. */
  apiKey: string;
  /** A `ws`-compatible WebSocket class (one set up with a proxy agent, say); `ws`'s own by default. */
  WebSocket?: typeof WebSocket;
  /** Called with true when the socket opens and false when it is lost (it then reconnects by itself). */
  onConnection?: (open: boolean) => void;
};

export type SwitchboardClient = {
  /** The typed API: `api.tickets.create.mutate(…)`, `api.tickets.events.subscribe(…)`… */
  api: TRPCClient<AppRouter>;
  /** Ends every subscription and closes the socket; HTTP calls keep working. */
  close: () => Promise<void>;
  /** Whether the WebSocket is open now. */
  connected: () => boolean;
  /**
   * Why the client ended, once the server refused its key (revoked or
   * expired: UNAUTHORIZED): every call fails with this error from then on.
   */
  ended: () => TRPCClientError<AppRouter> | undefined;
};

/** The error every call of an ended client fails with: UNAUTHORIZED, as the server answers a dead key over HTTP. */
function credentialError(message: string): TRPCClientError<AppRouter> {
  return new TRPCClientError<AppRouter>(message, {
    result: { error: { code: -32001, message, data: { code: 'UNAUTHORIZED', httpStatus: 401 } } },
  });
}

/**
 * Why the server closed a socket with one of these codes (server/realtime/sockets.ts):
 * its credential ended, so every reconnect would be refused too.
 */
const ENDED_BY_CLOSE: ReadonlyMap<number, string> = new Map([
  [KEY_REVOKED_CLOSE_CODE, 'The API key was revoked or has expired'],
  [SIGNED_OUT_CLOSE_CODE, 'The sign-in ended'],
]);

const ENDED_HINT = 'this client makes no more calls; create one with a valid key';

/** Clients whose close() was called: a follower must not reopen their socket by resubscribing. */
const closedClients = new WeakSet<SwitchboardClient>();

export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const base = options.url.replace(/\/+$/, '');
  const authorization = `Bearer ${options.apiKey}`;
  const Base = options.WebSocket ?? WebSocket;
  // `closeTimeout` is ws's (8.23), not yet in @types/ws 8.18.
  const socketOptions: WebSocket.ClientOptions & { closeTimeout: number } = {
    headers: { authorization },
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    closeTimeout: CLOSE_WAIT_MS,
  };
  let ended: TRPCClientError<AppRouter> | undefined;
  // tRPC constructs the socket with the URL alone; the subclass adds the key.
  class KeySocket extends Base {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, socketOptions);
      // A socket opened with a key the server does not know (any more) gets one
      // UNAUTHORIZED without a request id, then is closed. tRPC ignores it and
      // reconnects for as long as a subscription is open; it is final. Ended
      // here, before the close, a subscription not yet sent is not sent at all.
      this.addEventListener('message', ({ data }) => {
        if (typeof data !== 'string' || !data.includes('"id":null')) return;
        let code: string | undefined;
        try {
          code = (JSON.parse(data) as { error?: { data?: { code?: string } } }).error?.data?.code;
        } catch {
          return; // not JSON: tRPC reports it, and a listener must not throw
        }
        if (code !== 'UNAUTHORIZED') return;
        end(credentialError(`The API key is not valid: unknown, revoked or expired (Switchboard refused the socket); ${ENDED_HINT}`));
      });
    }
  }
  let open = false;
  // tRPC reports every failed attempt of an outage as a close: report changes only.
  const report = (now: boolean) => {
    if (now === open) return;
    open = now;
    options.onConnection?.(now);
  };
  /** The subscriptions in progress, each failed by `end`. */
  const live = new Set<(error: TRPCClientError<AppRouter>) => void>();
  /**
   * Ends the client: fails every subscription (which takes it off the socket,
   * so tRPC has nothing to reconnect for) and closes the socket for good.
   * Called from tRPC's close handler, before it decides whether to reconnect,
   * or on the refusal that comes before the close.
   */
  const end = (error: TRPCClientError<AppRouter>) => {
    if (ended) return;
    ended = error;
    for (const fail of [...live]) fail(error);
    void wsClient.close();
  };
  const wsClient = createWSClient({
    url: `${base.replace(/^http/, 'ws')}/api/trpc`,
    WebSocket: KeySocket as unknown as typeof globalThis.WebSocket,
    // Opened by the first subscription: a client that only creates tickets never holds a socket.
    lazy: { enabled: true, closeMs: IDLE_CLOSE_MS },
    keepAlive: { enabled: true, intervalMs: KEEPALIVE_INTERVAL_MS, pongTimeoutMs: KEEPALIVE_PONG_WAIT_MS },
    retryDelayMs: (attempt) => reconnectDelayMs(attempt),
    onOpen: () => report(true),
    onClose: (cause) => {
      report(false);
      const why = ENDED_BY_CLOSE.get(cause?.code ?? 0);
      if (why) end(credentialError(`${why} (Switchboard closed the socket, code ${cause?.code}); ${ENDED_HINT}`));
    },
  });
  // First in the chain: an ended client answers every call itself, and keeps a
  // handle on each subscription so that `end` can fail it.
  const endLink: TRPCLink<AppRouter> = () => ({ op, next }) =>
    observable((observer) => {
      if (ended) {
        observer.error(ended);
        return;
      }
      const inner = next(op).subscribe(observer);
      if (op.type !== 'subscription') return inner;
      const fail = (error: TRPCClientError<AppRouter>) => observer.error(error);
      live.add(fail);
      return () => {
        live.delete(fail);
        inner.unsubscribe();
      };
    });
  const client: SwitchboardClient = {
    api: createTRPCClient<AppRouter>({
      links: [
        endLink,
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: wsLink({ client: wsClient }),
          // One request per call, not batches: each answer's status (a create's 429 and Retry-After) is that call's own.
          false: httpLink({ url: `${base}/api/trpc`, headers: { authorization } }),
        }),
      ],
    }),
    close: async () => {
      closedClients.add(client);
      await wsClient.close();
      report(false);
    },
    connected: () => open,
    ended: () => ended,
  };
  return client;
}

export type TicketFollower = {
  /** The id of the last event delivered (a ticket event or a resync), to store and pass back as `lastEventId` later. */
  lastEventId: () => string | undefined;
  unsubscribe: () => void;
};

export type FollowOptions = {
  /** Resume after this event (as stored from `lastEventId()`); without it, the feed starts now. */
  lastEventId?: string | number;
  /** Each event of the integration's tickets, once and in event order. */
  onEvent: (event: TicketDelta) => void;
  /**
   * The resume point is gone from the server's log: events were missed. Re-read
   * the tickets (`api.tickets.list`), then carry on; events after `eventId` follow.
   */
  onResync?: (eventId: number) => void;
  /**
   * The server refused or ended the feed. After UNAUTHORIZED or FORBIDDEN (a
   * revoked or expired key, a missing scope) the follower stops — the client
   * has ended too when the server refused the key (`client.ended()`); after
   * any other error it subscribes again from the last event, after a backoff.
   */
  onError?: (error: TRPCClientError<AppRouter>) => void;
};

const FATAL_CODES: ReadonlySet<string> = new Set(['UNAUTHORIZED', 'FORBIDDEN']);

/**
 * Where a follower without a stored id starts: an id past any real one (the
 * largest the API takes). The server answers an unknown resume point with a
 * resync carrying its latest event id, so the follower learns its position at
 * once. Subscribing with no id would start "now" too, but give no position
 * until the first event, and a reconnect before it would start from a later
 * "now", losing what happened in between.
 */
const NOW = '999999999999999';

/**
 * Follows `tickets.events` from `lastEventId`. Across reconnects tRPC resends
 * the subscription with the id of the last event received, and the server
 * replays what came after it; when the server ends the feed with an error (a
 * reader that fell too far behind, say) this subscribes again from the last
 * event delivered. An event at or below the last one delivered is not
 * delivered again.
 */
export function followTicketEvents(client: SwitchboardClient, options: FollowOptions): TicketFollower {
  let last = options.lastEventId === undefined ? undefined : String(options.lastEventId);
  let startingNow = last === undefined;
  let stopped = false;
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let subscription: { unsubscribe: () => void } | undefined;

  const subscribe = () => {
    if (stopped || closedClients.has(client)) return;
    subscription = client.api.tickets.events.subscribe({ lastEventId: last ?? NOW }, {
      onStarted: () => (failures = 0),
      onData: ({ id, data }) => {
        if (data.type === 'resync') {
          last = id;
          // The answer to NOW: the position the follower starts from, not a loss.
          if (startingNow) startingNow = false;
          else options.onResync?.(data.eventId);
          return;
        }
        if (last !== undefined && data.event.eventId <= Number(last)) return;
        last = id;
        options.onEvent(data.event);
      },
      onError: (error) => {
        options.onError?.(error);
        if (FATAL_CODES.has(error.data?.code ?? '')) {
          stopped = true;
          return;
        }
        // Not unref()ed: a follower keeps its process alive, as its open socket does.
        retry = setTimeout(subscribe, reconnectDelayMs(failures++));
      },
    });
  };
  subscribe();
  return {
    lastEventId: () => last,
    unsubscribe: () => {
      stopped = true;
      clearTimeout(retry);
      subscription?.unsubscribe();
    },
  };
}
