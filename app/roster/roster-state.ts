// The roster page's state, as pure functions (no React, no I/O): every row by
// agent, the agents in name order, the team names and the counts. A batch of
// changes copies the map once and adjusts the counts by the rows it replaced,
// and re-sorts only when an agent is added or renamed, so that with thousands
// of agents a change costs little more than the row it changes. Rows are
// complete and carry a version: an older or equal version is ignored.
import type { RosterRow } from '@/db/queries/roster';

export const STATUS_ORDER = ['available', 'busy', 'away', 'offline'] as const;
export type Status = (typeof STATUS_ORDER)[number];
export type SortKey = 'name' | 'status' | 'since' | 'load';
export type View = { team: string; status: Status | ''; search: string; sort: SortKey };

export type RosterState = {
  rows: ReadonlyMap<string, RosterRow>;
  /** Agent ids in name order. */
  byName: readonly string[];
  /** Every team name that appears on a row, sorted. */
  teams: readonly string[];
  byStatus: Readonly<Record<Status, number>>;
  /** Available agents per team name. */
  availableByTeam: ReadonlyMap<string, number>;
};

// The order localeCompare gives, without its per-call set-up.
const collator = new Intl.Collator();

function nameOrder(rows: ReadonlyMap<string, RosterRow>): string[] {
  return [...rows.values()].sort((a, b) => collator.compare(a.name, b.name)).map((r) => r.agentId);
}

function teamNames(rows: ReadonlyMap<string, RosterRow>): string[] {
  return [...new Set([...rows.values()].flatMap((r) => r.teams))].sort();
}

const sameTeams = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/** Adds (`by` 1) or removes (`by` -1) one row from the counts. */
function count(byStatus: Record<Status, number>, availableByTeam: Map<string, number>, row: RosterRow, by: 1 | -1): void {
  byStatus[row.status] += by;
  if (row.status !== 'available') return;
  for (const team of row.teams) availableByTeam.set(team, (availableByTeam.get(team) ?? 0) + by);
}

export function rosterFrom(list: readonly RosterRow[]): RosterState {
  const rows = new Map(list.map((r) => [r.agentId, r]));
  const byStatus: Record<Status, number> = { available: 0, busy: 0, away: 0, offline: 0 };
  const availableByTeam = new Map<string, number>();
  for (const row of rows.values()) count(byStatus, availableByTeam, row, 1);
  return { rows, byName: nameOrder(rows), teams: teamNames(rows), byStatus, availableByTeam };
}

export const emptyRoster: RosterState = rosterFrom([]);

/** The state with `changes` applied; the same object when none is newer than what it holds. */
export function applyChanges(state: RosterState, changes: Iterable<RosterRow>): RosterState {
  let next: { rows: Map<string, RosterRow>; byStatus: Record<Status, number>; availableByTeam: Map<string, number> } | undefined;
  let reorder = false;
  let reteam = false;
  for (const row of changes) {
    const known = (next?.rows ?? state.rows).get(row.agentId);
    if (known && known.version >= row.version) continue;
    next ??= { rows: new Map(state.rows), byStatus: { ...state.byStatus }, availableByTeam: new Map(state.availableByTeam) };
    if (known) count(next.byStatus, next.availableByTeam, known, -1);
    count(next.byStatus, next.availableByTeam, row, 1);
    reorder ||= known?.name !== row.name;
    reteam ||= !known || !sameTeams(known.teams, row.teams);
    next.rows.set(row.agentId, row);
  }
  if (!next) return state;
  return {
    ...next,
    byName: reorder ? nameOrder(next.rows) : state.byName,
    teams: reteam ? teamNames(next.rows) : state.teams,
  };
}

/**
 * The rows to show, filtered and sorted. Name order is kept in the state; the
 * other orders are stable sorts of it, so agents that tie stay in name order.
 */
export function visibleRows(state: RosterState, view: View): RosterRow[] {
  const needle = view.search.trim().toLowerCase();
  const list: RosterRow[] = [];
  for (const id of state.byName) {
    const row = state.rows.get(id);
    if (!row) continue;
    if (view.team && !row.teams.includes(view.team)) continue;
    if (view.status && row.status !== view.status) continue;
    if (needle && !row.name.toLowerCase().includes(needle)) continue;
    list.push(row);
  }
  if (view.sort === 'status') return STATUS_ORDER.flatMap((s) => list.filter((r) => r.status === s));
  if (view.sort === 'load') {
    const total = new Map(list.map((r) => [r, totalLoad(r)]));
    return list.sort((a, b) => (total.get(b) ?? 0) - (total.get(a) ?? 0));
  }
  if (view.sort === 'since') {
    const since = new Map(list.map((r) => [r, Date.parse(r.since)]));
    return list.sort((a, b) => (since.get(a) ?? 0) - (since.get(b) ?? 0));
  }
  return list;
}

/** The agent's open tickets over every channel. */
function totalLoad(row: RosterRow): number {
  let total = 0;
  for (const n of Object.values(row.load)) total += n ?? 0;
  return total;
}
