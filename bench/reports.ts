// The reports benchmark (issue 8): how long reports.agents, reports.teams and
// reports.daily take over a month of a desk's history. A fresh database gets
// the history in bulk SQL (bench/reports-seed.ts: at full size 200 agents in
// 10 teams over 31 days, ~0.5M presence events, ~0.25M tickets, ~1.1M ticket
// events); one real Switchboard node (server/main.ts, as `npm start` runs it)
// answers the reports over plain HTTP to a signed-in admin. Each procedure is
// timed over the last 1, 7 and 30 days (every agent) and over 30 days for one
// team; then the facts statement is run once under EXPLAIN ANALYZE for the
// longest range (bench/reports-plan.ts). Checks: the targets (bench/reports-report.ts
// TARGETS), and correctness that costs nothing at scale:
// each agent's statuses fill the 1-day range to the second, the three
// procedures agree on their totals, and the 1-day offers and completions are
// those the ticket log holds. The report is bench/reports-report.ts.
// PostgreSQL: the server at BENCH_ADMIN_DATABASE_URL, else an embedded one.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { SESSION_COOKIE } from '../server/auth/service';
import { ROOT, spawnNode, type NodeProcess } from '../server/testing/spawn-node';
import { openBenchPostgres } from './lib/bench-postgres';
import { calibrate, calibrationLine, type Calibration } from './lib/calibration';
import { Cleanups, progress } from './lib/cleanups';
import { createFreshDatabase, dropDatabase } from './presence-seed';
import { explainFacts, factsQuery, type PlanSummary } from './reports-plan';
import { writeReport, type Case, type Check, type Measured } from './reports-report';
import { seedHistory, type History, type SeededHistory } from './reports-seed';

export type Size = {
  name: 'smoke' | 'full';
  history: History;
  /** Ranges timed, in days back from the end of the history (every agent). */
  rangeDays: number[];
  /** Timed runs per case, after one untimed run. */
  runs: number;
};

export const SIZES: Record<Size['name'], Size> = {
  // Seconds on a busy 2-core machine, for `npm test`.
  smoke: {
    name: 'smoke',
    history: { agents: 10, teams: 2, days: 2, statusChanges: 20, otherEventsPerChange: 3, ticketsPerShift: 40 },
    rangeDays: [1, 2],
    runs: 3,
  },
  // The issue's desk: 30 days measured, and the day before them so that the
  // 30-day range opens with a status that was set before it.
  full: {
    name: 'full',
    history: { agents: 200, teams: 10, days: 31, statusChanges: 20, otherEventsPerChange: 3, ticketsPerShift: 40 },
    rangeDays: [1, 7, 30],
    runs: 10,
  },
};

/** A case whose untimed run took longer than this gets SLOW_RUNS timed runs instead of the size's. */
const SLOW_CASE_MS = 5_000;
const SLOW_RUNS = 5;
/** A day is 86,400 s; figures are whole milliseconds, so sums may differ in the last digits. */
const SECONDS_TOLERANCE = 0.01;
/**
 * The history ends at a UTC midnight at least this long ago: the last shift
 * (starting up to a minute before it, 9 h 20 min of tickets) is then over,
 * and every event is in the past (a report's range is cut at now).
 */
const HISTORY_SETTLED_MS = 10 * 3600_000;
const DATABASE_NAME = 'bench_reports';
const PROCEDURES = ['agents', 'teams', 'daily'] as const;
type Procedure = (typeof PROCEDURES)[number];

const say = progress('reports');
const DAY_MS = 86_400_000;

/** Runs the benchmark and writes the report; resolves with whether the run counts as passed. */
export async function runReports(options: { smoke: boolean; command: string }): Promise<boolean> {
  const started = performance.now();
  const size = options.smoke ? SIZES.smoke : SIZES.full;
  const cleanups = new Cleanups(say);
  const releaseSignals = cleanups.onSignals();

  let measured: Measured | { broken: string };
  let databaseVersion = 'unknown';
  let external = false;
  let machine: Calibration | undefined;
  let node: NodeProcess | undefined;
  try {
    checkPagesBuilt();
    const database = await openBenchPostgres({ say });
    cleanups.push(() => database.stop());
    databaseVersion = database.version;
    external = database.external;
    machine = await calibrate(database.adminUrl);
    say(calibrationLine(machine).slice(2));
    const url = await createFreshDatabase(database.adminUrl, DATABASE_NAME);
    if (database.external) cleanups.push(() => dropDatabase(database.adminUrl, DATABASE_NAME));

    const end = new Date(Math.floor((Date.now() - HISTORY_SETTLED_MS) / DAY_MS) * DAY_MS);
    const seedStarted = performance.now();
    const seeded = await seedHistory(url, size.history, end);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    say(
      `seeded ${seeded.rows.presenceEvents.toLocaleString('en-US')} presence events, ${seeded.rows.tickets.toLocaleString('en-US')} tickets and ` +
        `${seeded.rows.ticketEvents.toLocaleString('en-US')} ticket events in ${seedSeconds.toFixed(1)} s`,
    );
    const database_ = await describeDatabase(url);

    const running = (node = await spawnNode({ DATABASE_URL: url, SEED: 'none', NODE_NAME: 'bench-reports' }));
    cleanups.push(() => running.stop('SIGTERM'));
    say(`node pid ${running.child.pid} at ${running.url}`);

    const team = seeded.teams[0];
    if (!team) throw new Error('no team seeded');
    const longest = Math.max(...size.rangeDays);
    const ranges = [
      ...size.rangeDays.map((days) => ({ label: `${days} day${days === 1 ? '' : 's'}, every agent`, days, teamId: undefined as string | undefined })),
      { label: `${longest} days, ${team.name}`, days: longest, teamId: team.id },
    ];
    const load = { before: loadavg()[0] ?? Number.NaN, otherBackends: await otherActiveBackends(url) };
    const cases: Case[] = [];
    const bodies = new Map<string, unknown>();
    for (const range of ranges) {
      const input = {
        from: new Date(end.getTime() - range.days * DAY_MS).toISOString(),
        to: end.toISOString(),
        timeZone: 'UTC',
        ...(range.teamId ? { teamId: range.teamId } : {}),
      };
      for (const procedure of PROCEDURES) {
        const timed = await timeCase(running.url, seeded.adminToken, procedure, input, size.runs);
        cases.push({ procedure, range: range.label, days: range.days, team: Boolean(range.teamId), ...timed.case });
        bodies.set(`${procedure} ${range.label}`, timed.body);
        say(`reports.${procedure} over ${range.label}: p50 ${timed.case.p50Ms.toFixed(0)} ms, max ${timed.case.maxMs.toFixed(0)} ms (${timed.case.runsMs.length} runs)`);
      }
    }
    const loadAfter = loadavg()[0] ?? Number.NaN;

    // The longest range in full; the shortest for its indexes and JIT (an index pays off on a short range).
    const agentIds = await agentIdsOf(url);
    const explain = async (days: number): Promise<PlanSummary> => {
      say(`EXPLAIN ANALYZE of the facts statement over ${days} day${days === 1 ? '' : 's'}`);
      return explainFacts(url, factsQuery({ agentIds, from: new Date(end.getTime() - days * DAY_MS), to: end, timeZone: 'UTC', everyAgent: true }));
    };
    const shortest = Math.min(...size.rangeDays);
    const plan = await explain(longest);
    const shortPlan = { days: shortest, plan: await explain(shortest) };

    const checks = await correctness({ url, size, end, ranges, bodies, seeded });
    const exitCode = await running.stop('SIGTERM');
    measured = {
      end,
      seeded,
      seedSeconds,
      database: database_,
      cases,
      load: { ...load, after: loadAfter },
      plan,
      shortPlan,
      checks,
      server: { exitCode, output: running.output() },
    };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    say(`broke: ${message}`);
    measured = { broken: message, ...(node ? { serverOutput: node.output() } : {}) };
  } finally {
    releaseSignals();
    await cleanups.run();
  }
  const { passed, file } = writeReport(measured, {
    size,
    command: options.command,
    databaseVersion,
    external,
    wallSeconds: (performance.now() - started) / 1000,
    machine,
  });
  say(`report written to ${file}`);
  return passed;
}

/** The node serves the pages from the production build, as `npm start` does. */
function checkPagesBuilt(): void {
  if (!existsSync(join(ROOT, '.next', 'BUILD_ID'))) {
    throw new Error('the pages are not built: run `node scripts/prepare.mjs build` (or `npm start`) first');
  }
}

/**
 * One untimed run (the connection's prepared statement, the caches), then
 * `runs` timed ones, one after the other: request start to the last byte of
 * the body. Every answer must be a 200; the last body is kept for the checks.
 */
async function timeCase(
  baseUrl: string,
  adminToken: string,
  procedure: Procedure,
  input: Record<string, string>,
  runs: number,
): Promise<{ case: Pick<Case, 'runsMs' | 'p50Ms' | 'maxMs' | 'bytes' | 'rows'>; body: unknown }> {
  const target = `${baseUrl}/api/trpc/reports.${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;
  const headers = { cookie: `${SESSION_COOKIE}=${adminToken}`, origin: baseUrl };
  const once = async () => {
    const started = performance.now();
    const res = await fetch(target, { headers });
    const text = await res.text();
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`reports.${procedure} ${JSON.stringify(input)}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return { ms, text };
  };
  const first = await once();
  const count = first.ms > SLOW_CASE_MS ? Math.min(SLOW_RUNS, runs) : runs;
  const runsMs: number[] = [];
  let last = first.text;
  for (let i = 0; i < count; i++) {
    const run = await once();
    runsMs.push(run.ms);
    last = run.text;
  }
  const body = (JSON.parse(last) as { result: { data: unknown } }).result.data;
  const sorted = [...runsMs].sort((a, b) => a - b);
  return {
    case: {
      runsMs,
      p50Ms: sorted[Math.ceil(sorted.length / 2) - 1] ?? Number.NaN,
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      bytes: Buffer.byteLength(last),
      rows: rowsOf(procedure, body),
    },
    body,
  };
}

function rowsOf(procedure: Procedure, body: unknown): number {
  const report = body as { agents?: unknown[]; teams?: unknown[]; days?: unknown[] };
  return (procedure === 'agents' ? report.agents : procedure === 'teams' ? report.teams : report.days)?.length ?? 0;
}

async function agentIdsOf(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    return (await sql<{ id: string }[]>`select id::text from users where role = 'agent' order by name, id`).map((r) => r.id);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Table sizes and the settings the plan depends on. */
async function describeDatabase(url: string): Promise<Measured['database']> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const tables = await sql<{ name: string; mb: number }[]>`
      select relname as name, round(pg_total_relation_size(oid) / 1048576.0, 1)::float8 as mb
        from pg_class where relname in ('presence_events', 'tickets', 'ticket_events') order by relname`;
    const settings = await sql<{ name: string; value: string }[]>`
      select name, setting || coalesce(unit, '') as value from pg_settings
       where name in ('shared_buffers', 'work_mem', 'jit', 'jit_above_cost', 'max_parallel_workers_per_gather') order by name`;
    return { tables, settings };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Statements other databases' clients are running now: the machine is shared. */
async function otherActiveBackends(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
       where state = 'active' and backend_type = 'client backend' and datname is distinct from current_database()`;
    return row?.n ?? 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

type Figures = {
  seconds: Record<string, number>;
  offers: Record<string, number>;
  handled: number;
  workingSeconds: number;
  staffedWorkingSeconds: number;
  wait: { tickets: number; p50Seconds: number | null; p90Seconds: number | null };
};

/** The numbers of two Figures that differ by more than the tolerance, named. */
function differences(a: Figures, b: Figures): string[] {
  const leaves = (f: Figures): Record<string, number | null> => ({
    ...Object.fromEntries(Object.entries(f.seconds).map(([k, v]) => [`seconds.${k}`, v])),
    ...Object.fromEntries(Object.entries(f.offers).map(([k, v]) => [`offers.${k}`, v])),
    handled: f.handled,
    workingSeconds: f.workingSeconds,
    staffedWorkingSeconds: f.staffedWorkingSeconds,
    'wait.tickets': f.wait.tickets,
    'wait.p50Seconds': f.wait.p50Seconds,
    'wait.p90Seconds': f.wait.p90Seconds,
  });
  const left = leaves(a);
  const right = leaves(b);
  return Object.keys({ ...left, ...right }).filter((k) => {
    const x = left[k];
    const y = right[k];
    return x === null || y === null || x === undefined || y === undefined ? x !== y : Math.abs(x - y) > SECONDS_TOLERANCE;
  }).map((k) => `${k} ${left[k]} vs ${right[k]}`);
}

async function correctness(params: {
  url: string;
  size: Size;
  end: Date;
  ranges: { label: string; days: number; teamId: string | undefined }[];
  bodies: Map<string, unknown>;
  seeded: SeededHistory;
}): Promise<Check[]> {
  const { size, end, ranges, bodies } = params;
  const checks: Check[] = [];
  const oneDay = ranges.find((r) => r.days === 1 && !r.teamId);
  const dayAgents = oneDay && (bodies.get(`agents ${oneDay.label}`) as { agents: (Figures & { name: string })[]; total: Figures } | undefined);
  if (dayAgents) {
    const off = dayAgents.agents
      .map((a) => ({ name: a.name, sum: Object.values(a.seconds).reduce((n, s) => n + s, 0) }))
      .filter((a) => Math.abs(a.sum - 86_400) > SECONDS_TOLERANCE);
    checks.push({
      name: `1 day: each agent's seconds over the statuses add up to 86,400 (within ${SECONDS_TOLERANCE} s), for every one of the ${size.history.agents} agents`,
      value: `${dayAgents.agents.length - off.length} of ${dayAgents.agents.length} agents${off.length ? `; e.g. ${off.slice(0, 3).map((a) => `${a.name}: ${a.sum}`).join(', ')}` : ''}`,
      pass: off.length === 0 && dayAgents.agents.length === size.history.agents,
    });
    const sql = postgres(params.url, { max: 1, onnotice: () => undefined });
    try {
      const [log] = await sql<{ offered: number; completed: number }[]>`
        select count(*) filter (where type = 'offered')::int as offered, count(*) filter (where type = 'completed')::int as completed
          from ticket_events where at >= ${new Date(end.getTime() - DAY_MS).toISOString()}::timestamptz and at < ${end.toISOString()}::timestamptz`;
      const offered = dayAgents.total.offers.offered ?? Number.NaN;
      checks.push({
        name: '1 day: the total offers and tickets handled are the ticket log\'s offered and completed events of that day (counted in SQL)',
        value: `offered ${offered} (log ${log?.offered}), handled ${dayAgents.total.handled} (log ${log?.completed})`,
        pass: offered === log?.offered && dayAgents.total.handled === log.completed && offered > 0,
      });
    } finally {
      await sql.end({ timeout: 5 });
    }
  } else {
    checks.push({ name: '1 day: statuses add up to 86,400 s per agent', value: 'no 1-day reports.agents answer', pass: false });
  }
  const disagreements: string[] = [];
  for (const range of ranges) {
    const totals = PROCEDURES.map((p) => [p, (bodies.get(`${p} ${range.label}`) as { total?: Figures } | undefined)?.total] as const);
    const [, reference] = totals[0]!;
    for (const [procedure, total] of totals.slice(1)) {
      if (!reference || !total) disagreements.push(`${range.label}: ${procedure} has no total`);
      else for (const d of differences(reference, total)) disagreements.push(`${range.label}: agents vs ${procedure}: ${d}`);
    }
  }
  checks.push({
    name: 'agents, teams and daily give the same total over each range (every number within 0.01)',
    value: disagreements.length ? disagreements.slice(0, 4).join('; ') : `${ranges.length} ranges agree`,
    pass: disagreements.length === 0,
  });
  return checks;
}
