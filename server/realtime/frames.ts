// Subscription messages written straight to a WebSocket, in tRPC's own wire
// format, for the live views that fan one change out to many sockets
// (roster.watch, team.watch). tRPC still owns each subscription — its start,
// input checks, errors, stop and end — but a message it delivers costs, per
// subscriber, a promise race, several object spreads and a JSON encode of the
// whole event. Written here, a change is serialised once per node and each
// subscriber's frame is that text inside its own envelope (decision 019).
//
// The envelope needs the id the client gave its subscription request, which
// tRPC does not hand to procedures. So this module reads each socket's
// subscription requests for the paths it serves just before tRPC does (its
// listener is added first), and the procedure takes its request's id by path
// and input. Without an id (a caller in-process, say), the view goes through
// tRPC as before.
import type { RawData, WebSocket } from 'ws';

/** What a frame is written to (a `ws` WebSocket). */
export type FrameSocket = { send(data: string): void; readonly bufferedAmount: number };

/** A subscription request as the client sent it: where its messages go. */
export type SubscriptionTarget = { socket: FrameSocket; id: string | number; jsonrpc: boolean };

/** What identifies a request among a socket's others: its path, team and resume point. */
export type RequestKey = { path: string; teamId?: string | number | null; lastEventId?: string | number | null };

const keyOf = (key: RequestKey) => `${key.path}\u0000${key.teamId ?? ''}\u0000${key.lastEventId ?? ''}`;
const isKeyPart = (value: unknown): value is string | number | null | undefined =>
  value === undefined || value === null || typeof value === 'string' || typeof value === 'number';

/**
 * Requests not yet taken by their procedure, per socket (one refused, say, is
 * never taken); beyond this many, more are not kept (a client could send any number).
 */
const PENDING_PER_SOCKET = 64;

type Message = { id?: unknown; jsonrpc?: unknown; method?: unknown; params?: { path?: unknown; input?: unknown; lastEventId?: unknown } };

export class SubscriptionRequests {
  private readonly pending = new WeakMap<WebSocket, Map<string, Array<{ id: string | number; jsonrpc: boolean }>>>();

  constructor(private readonly paths: ReadonlySet<string>) {}

  /** Starts reading a socket's subscription requests; call before tRPC attaches to the socket. */
  watch(socket: WebSocket): void {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary || !Buffer.isBuffer(data) || !data.includes('subscription')) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString('utf8'));
      } catch {
        return; // tRPC answers it with its parse error
      }
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) this.record(socket, message as Message);
    });
  }

  /** The request a procedure serves, taken once; undefined if none was read for it. */
  take(socket: WebSocket | undefined, key: RequestKey): SubscriptionTarget | undefined {
    const requests = socket && this.pending.get(socket);
    const name = keyOf(key);
    const queue = requests?.get(name);
    const request = queue?.shift();
    if (!request || !socket) return undefined;
    if (queue!.length === 0) requests!.delete(name);
    return { socket, ...request };
  }

  private record(socket: WebSocket, message: Message | null): void {
    if (message?.method !== 'subscription' || typeof message.params?.path !== 'string') return;
    const { path, lastEventId } = message.params;
    if (!this.paths.has(path)) return;
    const id = message.id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    const input = typeof message.params.input === 'object' && message.params.input !== null ? (message.params.input as Record<string, unknown>) : {};
    // tRPC merges the resume point into the input the same way.
    const resume = lastEventId ?? input.lastEventId;
    // The client wrote these, so they may be anything JSON can be. An object
    // or array cannot be put in a key (`{"toString":1}` throws, and a throw
    // here is uncaught: it would end the process), and its request is refused
    // by the input's schema anyway, so it is never taken: leave it unread.
    if (!isKeyPart(input.teamId) || !isKeyPart(resume)) return;
    const key = keyOf({ path, teamId: input.teamId, lastEventId: resume });
    let requests = this.pending.get(socket);
    if (!requests) this.pending.set(socket, (requests = new Map()));
    let held = 0;
    for (const queue of requests.values()) held += queue.length;
    if (held >= PENDING_PER_SOCKET) return; // its procedure yields through tRPC instead
    let queue = requests.get(key);
    if (!queue) requests.set(key, (queue = []));
    queue.push({ id, jsonrpc: message.jsonrpc === '2.0' });
  }
}

/**
 * The frame tRPC would send for a tracked event `trackedId` carrying `dataJson`
 * (already JSON): `{ id, jsonrpc?, result: { type: 'data', id, data: { id, data } } }`.
 */
export function trackedFrame(target: Pick<SubscriptionTarget, 'id' | 'jsonrpc'>, trackedId: string, dataJson: string): string {
  const id = JSON.stringify(trackedId);
  return `{"id":${JSON.stringify(target.id)},${target.jsonrpc ? '"jsonrpc":"2.0",' : ''}"result":{"type":"data","id":${id},"data":{"id":${id},"data":${dataJson}}}}`;
}
