// Routing errors the API maps to tRPC codes (server/trpc/init.ts).

/** No such ticket or queue, or not the caller's to see: NOT_FOUND. */
export class RoutingNotFoundError extends Error {
  override name = 'RoutingNotFoundError';
}

/** The ticket is not in a state that allows this (already accepted, completed…): CONFLICT. */
export class TicketStateError extends Error {
  override name = 'TicketStateError';
}
