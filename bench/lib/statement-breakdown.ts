// Which statements a database ran in two windows (idle and loaded), from two
// pairs of pg_stat_statements snapshots: calls per second in each, so that
// what grows under load stands out from the background, and how many calls
// the load added over the background.

export type Snapshot = Map<string, { query: string; calls: number }>;
export type StatementRate = { query: string; idlePerSecond: number; loadedPerSecond: number };
export type Window = { from: Snapshot; to: Snapshot; seconds: number };

function callsBetween(a: Snapshot, b: Snapshot): Map<string, { query: string; calls: number }> {
  const out = new Map<string, { query: string; calls: number }>();
  for (const [id, after] of b) {
    const calls = after.calls - (a.get(id)?.calls ?? 0);
    if (calls > 0) out.set(id, { query: after.query, calls });
  }
  return out;
}

/**
 * The `top` statements by calls in the loaded window, then up to `top / 2`
 * more whose rate grew most under load, with their idle and loaded rates.
 */
export function statementRates(idle: Window, loaded: Window, top: number): StatementRate[] {
  const idleCalls = callsBetween(idle.from, idle.to);
  const loadedCalls = callsBetween(loaded.from, loaded.to);
  const ids = new Set([...idleCalls.keys(), ...loadedCalls.keys()]);
  const rates = [...ids].map((id) => ({
    query: (loadedCalls.get(id) ?? idleCalls.get(id))?.query.replace(/\s+/g, ' ').trim() ?? '?',
    idlePerSecond: (idleCalls.get(id)?.calls ?? 0) / idle.seconds,
    loadedPerSecond: (loadedCalls.get(id)?.calls ?? 0) / loaded.seconds,
  }));
  const busiest = [...rates].sort((a, b) => b.loadedPerSecond - a.loadedPerSecond || b.idlePerSecond - a.idlePerSecond).slice(0, top);
  const growth = (r: StatementRate) => r.loadedPerSecond - r.idlePerSecond;
  const grew = rates
    .filter((r) => !busiest.includes(r) && growth(r) > 0.01)
    .sort((a, b) => growth(b) - growth(a))
    .slice(0, Math.ceil(top / 2));
  return [...busiest, ...grew];
}

/**
 * Calls the load added: for each statement, its calls in the loaded window
 * beyond its idle rate over that window's length, when positive. A statement
 * that ran less often under load offsets nothing, so background noise can
 * only raise the estimate.
 */
export function callsOverBackground(idle: Window, loaded: Window): number {
  const idleCalls = callsBetween(idle.from, idle.to);
  let added = 0;
  for (const [id, { calls }] of callsBetween(loaded.from, loaded.to)) {
    const background = ((idleCalls.get(id)?.calls ?? 0) / idle.seconds) * loaded.seconds;
    added += Math.max(0, calls - background);
  }
  return added;
}
