// Routing errors the API maps to tRPC codes (server/trpc/init.ts).

/** No such ticket or queue, or not the caller's to see: NOT_FOUND. */
export class RoutingNotFoundError extends Error {
  override name = 'RoutingNotFoundError';
}

/**
 * This node has as many tickets being created as it takes at once: TOO_MANY_REQUESTS (HTTP 429,
 * Retry-After). The caller sends the same call again; creation is idempotent on externalId.
 */
export class BusyError extends Error {
  override name = 'BusyError';
}

/** The ticket is not in a state that allows this (already accepted, completed…): CONFLICT. */
export class TicketStateError extends Error {
  override name = 'TicketStateError';
}
