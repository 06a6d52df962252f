// The reconnect policy shared by the pages (app/lib/trpc.ts) and the
// integrators' client (server/client): capped exponential backoff with jitter,
// so that a restarted node is not stampeded by every client at once.
// No imports: the page bundle includes this file.

/** The first retry waits about this long; each later one twice the one before… */
export const RECONNECT_BASE_MS = 250;
/** …up to this, however long the server stays away. */
export const RECONNECT_MAX_MS = 5_000;

/**
 * How long to wait before reconnect attempt `attempt` (0 for the first): the
 * capped doubling, times a random factor in [0.5, 1) so clients spread out.
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  return Math.min(RECONNECT_BASE_MS * 2 ** attempt, RECONNECT_MAX_MS) * (0.5 + random() / 2);
}
