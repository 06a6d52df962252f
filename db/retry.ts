// Transactions that lose a deadlock or a serialization race are safe to run
// again from the start: PostgreSQL rolled them back whole.

const RETRYABLE = new Set(['40P01', '40001']); // deadlock_detected, serialization_failure

/** Thrown inside a transaction to have `retrying` run it again from the start (its locks released). */
export class StartOver extends Error {
  override name = 'StartOver';
  readonly code = '40001';
}

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code;
}

export async function retrying<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !RETRYABLE.has(codeOf(error) ?? '')) throw error;
    }
  }
}

/**
 * Errors of a connection lost under a statement: the server was restarted or
 * failed over, or the connection was cut (57P01–57P03 come from the server as
 * it goes; the others from the driver once the socket is gone). Class 08
 * (connection exceptions) too: after a cut, a transaction that was still
 * running on its dead connection may write into that connection's reconnect
 * (postgres.js lets it), and the statement the reconnect was for fails with
 * 08P01 (seen in the fault suite against the embedded PostgreSQL, whose
 * sign-in is SCRAM). It never ran, so it is made again like the others.
 */
const CONNECTION_LOST = new Set(['57P01', '57P02', '57P03', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE']);
const lostConnection = (code: string | undefined) => code !== undefined && (CONNECTION_LOST.has(code) || code.startsWith('08'));

/**
 * Runs `work` again when its connection was lost under it, up to `attempts`
 * times, waiting 100, 200, 400… ms (the pool reconnects meanwhile). Only for
 * work that may safely run twice: a lost connection does not say whether the
 * statement committed, so `work` must be idempotent (setting a status to the
 * same value twice changes nothing the second time).
 */
export async function retryingLostConnection<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !lostConnection(codeOf(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
    }
  }
}
