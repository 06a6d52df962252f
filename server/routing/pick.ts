// Candidate choice for one ticket, as a pure function: who of the queue's team
// may take it, in which order to try them, and why — the explanation that
// tickets.get returns. No clock, no I/O.
import type { Status } from '../presence/aggregate';

export type Strategy = 'least_loaded' | 'round_robin';

export type Candidate = {
  agentId: string;
  status: Status;
  skills: readonly string[];
  /** Open (offered or assigned) tickets of the ticket's channel. */
  load: number;
  /** Capacity for the ticket's channel (the agent's override, else the queue's default). */
  capacity: number;
  /** When the agent was last offered a ticket (ms since epoch); null if never. */
  lastOfferedAt: number | null;
};

export type SkipReason = 'not_available' | 'at_capacity' | 'missing_skill';

export type Considered =
  | { agentId: string; eligible: false; reason: SkipReason; detail: string }
  | { agentId: string; eligible: true; spare: number; lastOfferedAt: number | null; passedOn?: true };

export type Ranking = {
  /** Eligible agents, best first: the claim tries them in this order. */
  order: string[];
  considered: Considered[];
};

/**
 * `need.passedBy`: agents who declined the ticket, let its offer expire or
 * released it. They stay eligible (a team of one still gets its ticket back),
 * but every other eligible agent is tried first, whatever the strategy.
 */
export function rankCandidates(
  strategy: Strategy,
  need: { skills: readonly string[]; passedBy?: readonly string[] },
  candidates: readonly Candidate[],
): Ranking {
  const passed = new Set(need.passedBy ?? []);
  const considered = candidates.map((c): Considered => {
    if (c.status !== 'available') return { agentId: c.agentId, eligible: false, reason: 'not_available', detail: c.status };
    const missing = need.skills.filter((s) => !c.skills.includes(s));
    if (missing.length) return { agentId: c.agentId, eligible: false, reason: 'missing_skill', detail: missing.join(', ') };
    if (c.load >= c.capacity) {
      return { agentId: c.agentId, eligible: false, reason: 'at_capacity', detail: `${c.load} of ${c.capacity}` };
    }
    const verdict = { agentId: c.agentId, eligible: true as const, spare: c.capacity - c.load, lastOfferedAt: c.lastOfferedAt };
    return passed.has(c.agentId) ? { ...verdict, passedOn: true } : verdict;
  });
  const eligible = considered.filter((c): c is Extract<Considered, { eligible: true }> => c.eligible);
  const waitedLonger = (a: number | null, b: number | null) => (a ?? -Infinity) - (b ?? -Infinity);
  const byStrategy = (a: (typeof eligible)[number], b: (typeof eligible)[number]) =>
    (strategy === 'least_loaded' ? b.spare - a.spare : 0) ||
    waitedLonger(a.lastOfferedAt, b.lastOfferedAt) ||
    (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0);
  // Most tickets nobody passed on: the plain order, without a test per comparison.
  eligible.sort(passed.size === 0 ? byStrategy : (a, b) => Number(a.passedOn ?? false) - Number(b.passedOn ?? false) || byStrategy(a, b));
  return { order: eligible.map((c) => c.agentId), considered };
}

/** One sentence on why `winner` was chosen over the other eligible agents. */
export function whyChosen(strategy: Strategy, ranking: Ranking, winner: string): string {
  const eligible = ranking.considered.filter((c): c is Extract<Considered, { eligible: true }> => c.eligible);
  const chosen = eligible.find((c) => c.agentId === winner);
  if (!chosen) return 'chosen';
  if (eligible.length === 1) return chosen.passedOn ? 'the only eligible agent, though they passed on it before' : 'the only eligible agent';
  const fresh = eligible.filter((c) => !c.passedOn);
  if (chosen.passedOn) {
    return fresh.length
      ? `passed on it before, tried after the ${fresh.length} eligible who had not`
      : `passed on it before, as had all ${eligible.length} eligible`;
  }
  const passedOn = eligible.length - fresh.length;
  if (passedOn && fresh.length === 1) return 'the only eligible agent who had not passed on it';
  const why = whyAmong(strategy, fresh, chosen);
  return passedOn ? `${why}; ${passedOn} who passed on it tried last` : why;
}

/** Why `chosen` came first among `eligible` (those who had not passed on the ticket). */
function whyAmong(
  strategy: Strategy,
  eligible: ReadonlyArray<Extract<Considered, { eligible: true }>>,
  chosen: Extract<Considered, { eligible: true }>,
): string {
  if (strategy === 'round_robin') return `next in turn: longest since a last offer, of ${eligible.length} eligible`;
  const sameSpare = eligible.filter((c) => c.spare === chosen.spare).length;
  return sameSpare > 1
    ? `most spare capacity (${chosen.spare}), tied with ${sameSpare - 1} and longest since a last offer`
    : `most spare capacity (${chosen.spare}) of ${eligible.length} eligible`;
}

/**
 * Why a ticket waits, from a ranking with no taker. Agents of the team not
 * among the candidates are counted: `notAvailable`, and `atCapacity` (full on
 * every channel).
 */
export function whyWaiting(ranking: Ranking, notAvailable = 0, atCapacity = 0): string {
  if (ranking.considered.length === 0 && notAvailable === 0 && atCapacity === 0) return 'no agents in the queue’s team';
  const counts = new Map<SkipReason, number>();
  if (notAvailable) counts.set('not_available', notAvailable);
  if (atCapacity) counts.set('at_capacity', atCapacity);
  for (const c of ranking.considered) if (!c.eligible) counts.set(c.reason, (counts.get(c.reason) ?? 0) + 1);
  if (counts.size === 0) return 'every eligible agent was being offered another ticket';
  const words: Record<SkipReason, string> = {
    not_available: 'not available',
    at_capacity: 'at capacity',
    missing_skill: 'missing a skill',
  };
  return [...counts].map(([reason, n]) => `${n} ${words[reason]}`).join(', ');
}
