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
