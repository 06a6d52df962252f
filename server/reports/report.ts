// Reports: what each agent (and team, and day) did over a range, from the
// presence and ticket event logs (db/queries/reports.ts reads the facts).
// Definitions, as docs/reports.md states them:
// - seconds per status: time spent in each status within the range (to now);
// - staffed: available + busy, the time an agent was signed in and not away;
// - working: time holding at least one accepted ticket (concurrent tickets once);
// - occupancy: working time while staffed over staffed time (decision 039 says
//   why busy counts: agents set busy while they handle a ticket);
// - offers: offered, accepted, declined, missed (the offer expired);
// - handled: tickets the agent completed;
// - wait: for tickets first accepted in the range, created to first accepted,
//   p50 and p90 by linear interpolation between the nearest ranks.
import type { Db } from '../../db/client';
import { reportAgents, reportFacts, type ReportAgent, type ReportDay } from '../../db/queries/reports';
import type { RosterStatus } from '../../db/queries/roster';

export const STATUSES = ['available', 'busy', 'away', 'offline'] as const satisfies readonly RosterStatus[];

export type Figures = {
  seconds: Record<RosterStatus, number>;
  staffedSeconds: number;
  workingSeconds: number;
  /** Of the working seconds, those while available or busy: occupancy's numerator. */
  staffedWorkingSeconds: number;
  /** staffedWorkingSeconds / staffedSeconds, 0 to 1; null without staffed time. */
  occupancy: number | null;
  offers: { offered: number; accepted: number; declined: number; missed: number };
  handled: number;
  wait: { tickets: number; p50Seconds: number | null; p90Seconds: number | null };
};

export type ReportRange = { from: string; to: string; timeZone: string };

/** A report's scope: the teams whose agents it covers (undefined: every agent). */
export type ReportScope = { teamIds: string[] | undefined };

export type AgentReport = Pick<ReportAgent, 'agentId' | 'name' | 'email' | 'teamIds' | 'teams'> & Figures;
export type TeamReport = { teamId: string; name: string; agents: number } & Figures;
export type DayReport = { day: string } & Figures;

/** Bad report input found only by the database (a time zone it does not know). */
export class ReportInputError extends Error {
  override name = 'ReportInputError';
}

/** Running sums of facts, finished into Figures. */
class Tally {
  private seconds: Record<RosterStatus, number> = { available: 0, busy: 0, away: 0, offline: 0 };
  private working = 0;
  private staffedWorking = 0;
  private offers = { offered: 0, accepted: 0, declined: 0, missed: 0 };
  private handled = 0;
  private waits: number[] = [];

  add(day: ReportDay): void {
    for (const status of STATUSES) this.seconds[status] += day.seconds[status];
    this.working += day.working;
    this.staffedWorking += day.staffedWorking;
    this.offers.offered += day.offered;
    this.offers.accepted += day.accepted;
    this.offers.declined += day.declined;
    this.offers.missed += day.missed;
    this.handled += day.handled;
    for (const wait of day.waits) this.waits.push(wait);
  }

  figures(): Figures {
    const seconds = mapValues(this.seconds, ms);
    const staffedSeconds = ms(this.seconds.available + this.seconds.busy);
    const waits = this.waits.sort((a, b) => a - b);
    return {
      seconds,
      staffedSeconds,
      workingSeconds: ms(this.working),
      staffedWorkingSeconds: ms(this.staffedWorking),
      occupancy: staffedSeconds > 0 ? Math.round((this.staffedWorking / staffedSeconds) * 10_000) / 10_000 : null,
      offers: { ...this.offers },
      handled: this.handled,
      wait: { tickets: waits.length, p50Seconds: percentile(waits, 0.5), p90Seconds: percentile(waits, 0.9) },
    };
  }
}

/** Sums of floats drift in the last bits; figures are whole milliseconds. */
const ms = (seconds: number) => Math.round(seconds * 1000) / 1000;

function mapValues<K extends string>(record: Record<K, number>, f: (value: number) => number): Record<K, number> {
  return Object.fromEntries(Object.entries<number>(record).map(([k, v]) => [k, f(v)])) as Record<K, number>;
}

/** The q-quantile of sorted values, interpolated between the nearest ranks (PostgreSQL's percentile_cont). */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = q * (sorted.length - 1);
  const below = Math.floor(rank);
  const lower = sorted[below]!;
  const upper = sorted[Math.min(below + 1, sorted.length - 1)]!;
  return ms(lower + (upper - lower) * (rank - below));
}

/** `everyAgent`: the agents are the whole desk, so tickets need not be narrowed to theirs (a hint: narrowing is never wrong). */
async function factsOf(db: Db, agents: readonly ReportAgent[], range: ReportRange, everyAgent: boolean) {
  try {
    return await reportFacts(db, {
      agentIds: agents.map((a) => a.agentId),
      from: new Date(range.from),
      to: new Date(range.to),
      timeZone: range.timeZone,
      everyAgent,
    });
  } catch (error) {
    // 22023: PostgreSQL does not know the time zone (its list can differ from the runtime's).
    if ((error as { cause?: { code?: string } }).cause?.code === '22023' || (error as { code?: string }).code === '22023') {
      throw new ReportInputError(`timeZone: PostgreSQL does not know the time zone ${range.timeZone}`);
    }
    throw error;
  }
}

/** The range as reported: `to` as reportFacts cut it, at the time the report was read. */
const rangeOut = (range: ReportRange, to: Date): ReportRange => ({
  from: new Date(range.from).toISOString(),
  to: to.toISOString(),
  timeZone: range.timeZone,
});

/** Every view of one read: per agent, per team, per day, and the total of the agents read. */
export type Overview = { range: ReportRange; agents: AgentReport[]; teams: TeamReport[]; days: DayReport[]; total: Figures };

/**
 * Reads the facts of `agents` once and adds them up every way: per agent, per
 * team of `teams` (its agents among them), per day, and in total.
 */
async function readReport(
  db: Db,
  params: { agents: ReportAgent[]; teams: { id: string; name: string }[]; range: ReportRange; everyAgent: boolean },
): Promise<Overview> {
  const { days, to } = await factsOf(db, params.agents, params.range, params.everyAgent);
  const teamsOf = new Map(params.agents.map((a) => [a.agentId, a.teamIds]));
  const perAgent = new Map(params.agents.map((a) => [a.agentId, new Tally()]));
  const perTeam = new Map(params.teams.map((t) => [t.id, new Tally()]));
  const perDay = new Map<string, Tally>();
  const total = new Tally();
  for (const day of days) {
    perAgent.get(day.agentId)?.add(day);
    for (const teamId of teamsOf.get(day.agentId) ?? []) perTeam.get(teamId)?.add(day);
    let tally = perDay.get(day.day);
    if (!tally) perDay.set(day.day, (tally = new Tally()));
    tally.add(day);
    total.add(day);
  }
  return {
    range: rangeOut(params.range, to),
    agents: params.agents.map((a) => ({ ...a, ...perAgent.get(a.agentId)!.figures() })),
    teams: params.teams.map((t) => ({
      teamId: t.id,
      name: t.name,
      agents: params.agents.filter((a) => a.teamIds.includes(t.id)).length,
      ...perTeam.get(t.id)!.figures(),
    })),
    days: [...perDay.keys()].sort().map((day) => ({ day, ...perDay.get(day)!.figures() })),
    total: total.figures(),
  };
}

const everyAgentIn = (scope: ReportScope) => scope.teamIds === undefined;

/** Each agent in scope over the range, and the total of them all. */
export async function agentsReport(
  db: Db,
  params: { scope: ReportScope; range: ReportRange },
): Promise<{ range: ReportRange; agents: AgentReport[]; total: Figures }> {
  const agents = await reportAgents(db, { teamIds: params.scope.teamIds, from: new Date(params.range.from) });
  const { range, agents: rows, total } = await readReport(db, { agents, teams: [], range: params.range, everyAgent: everyAgentIn(params.scope) });
  return { range, agents: rows, total };
}

/** Each team in scope (its current agents' figures together), and the total of every agent of them once. */
export async function teamsReport(
  db: Db,
  params: { scope: ReportScope; range: ReportRange; teams: { id: string; name: string }[] },
): Promise<{ range: ReportRange; teams: TeamReport[]; total: Figures }> {
  const agents = await reportAgents(db, { teamIds: params.teams.map((t) => t.id), from: new Date(params.range.from) });
  const { range, teams, total } = await readReport(db, { agents, teams: params.teams, range: params.range, everyAgent: everyAgentIn(params.scope) });
  return { range, teams, total };
}

/** The agents in scope (or one of them) day by day, in the range's time zone, and their total. */
export async function dailyReport(
  db: Db,
  params: { scope: ReportScope; range: ReportRange; agentId?: string },
): Promise<{ range: ReportRange; days: DayReport[]; total: Figures } | undefined> {
  let agents = await reportAgents(db, { teamIds: params.scope.teamIds, from: new Date(params.range.from) });
  if (params.agentId) {
    agents = agents.filter((a) => a.agentId === params.agentId);
    if (agents.length === 0) return undefined;
  }
  const everyAgent = !params.agentId && everyAgentIn(params.scope);
  const { range, days, total } = await readReport(db, { agents, teams: [], range: params.range, everyAgent });
  return { range, days, total };
}

/** All three views from one read (what the /reports page shows): the agents in scope, their teams, their days. */
export async function overviewReport(
  db: Db,
  params: { scope: ReportScope; range: ReportRange; teams: { id: string; name: string }[] },
): Promise<Overview> {
  const agents = await reportAgents(db, { teamIds: params.scope.teamIds, from: new Date(params.range.from) });
  return readReport(db, { agents, teams: params.teams, range: params.range, everyAgent: everyAgentIn(params.scope) });
}
