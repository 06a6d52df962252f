// An evenly spaced load: call k is due at start + k × spacing.

/**
 * Calls `send(k, due)` for k = 0 … total − 1 when each is due (a late tick
 * sends every overdue call at once, with its own due time), then waits until
 * one more spacing has passed: the end of the window, as if the next were due.
 */
export async function sendOnSchedule(
  start: number,
  total: number,
  spacingMs: number,
  send: (k: number, due: number) => void,
): Promise<void> {
  await new Promise<void>((resolve) => {
    let k = 0;
    const tick = () => {
      const now = performance.now();
      for (; k < total && start + k * spacingMs <= now; k += 1) send(k, start + k * spacingMs);
      if (k >= total) return resolve();
      setTimeout(tick, Math.max(0, start + k * spacingMs - performance.now()));
    };
    tick();
  });
  const rest = start + total * spacingMs - performance.now();
  if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
}
