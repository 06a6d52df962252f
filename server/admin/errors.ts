// What the admin services refuse, as named errors whose messages start with
// the offending field. server/trpc/init.ts turns them into tRPC codes; the
// command line prints the message.
export class AdminNotFoundError extends Error {
  override name = 'AdminNotFoundError';
}

/** The change contradicts the state: a taken email or team name, the last admin, a team with open tickets. */
export class AdminConflictError extends Error {
  override name = 'AdminConflictError';
}

/** The input is well-formed but not acceptable here (an agent's membership as supervisor…). */
export class AdminInputError extends Error {
  override name = 'AdminInputError';
}

/** Whether a database error (or its cause) is a unique violation: SQLSTATE 23505. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
