// A per-socket message budget for the tRPC WebSocket: a token bucket of
// WS_MESSAGE_BURST messages refilled at WS_MESSAGES_PER_SECOND. A message
// over budget is not handed to tRPC at all: its request, when its id can be
// read cheaply, is answered TOO_MANY_REQUESTS, so that a client that merely
// bursts hears why. A socket that keeps sending past its budget for
// WS_FLOOD_CLOSE_MS is closed (1008). Refused messages cost this node a
// frame parse and a counter, so one flooding client does not slow the others.
//
// It works by filtering the socket's `message` events before any listener
// sees them (tRPC's and server/realtime/frames.ts's alike), so it must be
// installed before either attaches its listener.
import type { RawData, WebSocket } from 'ws';
import type { Env } from '../env';

export type GuardSettings = Pick<Env, 'WS_MESSAGES_PER_SECOND' | 'WS_MESSAGE_BURST' | 'WS_FLOOD_CLOSE_MS'>;

export const FLOOD_CLOSE_CODE = 1008; // policy violation

/** Counts across this node's sockets, for the node's stats. */
export const guardStats = { refused: 0, closed: 0 };

/** The request id of a tRPC message, read from its first bytes without parsing the whole of it. */
function requestId(data: RawData): number | string | undefined {
  const head = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).subarray(0, 200).toString('utf8');
  const match = /"id"\s*:\s*(\d{1,15}|"[^"\\]{0,100}")/.exec(head);
  if (!match?.[1]) return undefined;
  return match[1].startsWith('"') ? match[1].slice(1, -1) : Number(match[1]);
}

export function guardMessages(socket: WebSocket, settings: GuardSettings, now: () => number = () => performance.now()): void {
  const rate = settings.WS_MESSAGES_PER_SECOND / 1000; // tokens per ms
  const burst = settings.WS_MESSAGE_BURST;
  let tokens = burst;
  let last = now();
  // A flood is refusals that keep coming: it began at the first refusal and
  // lasts while the next refusal follows within WS_FLOOD_CLOSE_MS (messages
  // the refill lets through meanwhile do not end it).
  let refusingSince: number | undefined;
  let lastRefused = -Infinity;

  const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'message') return emit(event, ...args);
    const at = now();
    tokens = Math.min(burst, tokens + (at - last) * rate);
    last = at;
    if (at - lastRefused > settings.WS_FLOOD_CLOSE_MS) refusingSince = undefined;
    if (tokens >= 1) {
      tokens -= 1;
      return emit(event, ...args);
    }
    guardStats.refused++;
    refusingSince ??= at;
    lastRefused = at;
    if (at - refusingSince >= settings.WS_FLOOD_CLOSE_MS) {
      if (socket.readyState === socket.OPEN) {
        guardStats.closed++;
        socket.close(FLOOD_CLOSE_CODE, 'message rate limit exceeded');
      }
      return false;
    }
    const id = requestId(args[0] as RawData);
    if (id !== undefined && socket.readyState === socket.OPEN && socket.bufferedAmount < 64 * 1024) {
      socket.send(
        JSON.stringify({
          id,
          error: {
            code: -32029,
            message: `Too many messages on this socket: at most ${settings.WS_MESSAGES_PER_SECOND} a second`,
            data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429 },
          },
        }),
      );
    }
    return false;
  }) as typeof socket.emit;
}
