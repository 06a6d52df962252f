// The reports benchmark's report: the machine and its load, the history
// seeded, a table of each procedure and range (p50, max, response size), the
// checks with PASS/FAIL (the target applies at full size; a smoke run bounds
// the same figure on its tiny desk), and the facts statement's plan in short:
// total, planning and JIT time, the indexes it reads, its top lines and hot
// spots. Printed, and written where bench/lib/results-file.ts says:
// bench/results/reports-full.md (kept) or .test-data/bench/reports-smoke.md.
import { availableParallelism } from 'node:os';
import { calibrationLine, type Calibration } from './lib/calibration';
import { fixed, markdownTable, whole } from './lib/markdown';
import { codeVersion, writeReportFile } from './lib/results-file';
import { summarizeOutput } from './lib/server-process';
import { REPORT_INDEXES, type PlanLine, type PlanSummary } from './reports-plan';
import type { Size } from './reports';
import type { SeededHistory } from './reports-seed';

export type Case = {
  procedure: 'agents' | 'teams' | 'daily';
  range: string;
  days: number;
  /** One team rather than every agent. */
  team: boolean;
  runsMs: number[];
  p50Ms: number;
  maxMs: number;
  /** The last answer's body. */
  bytes: number;
  /** Agents, teams or days in it. */
  rows: number;
};

export type Check = { name: string; value: string; pass: boolean | undefined };

export type Measured = {
  end: Date;
  seeded: SeededHistory;
  seedSeconds: number;
  database: { tables: { name: string; mb: number }[]; settings: { name: string; value: string }[] };
  cases: Case[];
  /** 1-min load average before and after the timed requests; other databases' active statements before them. */
  load: { before: number; after: number; otherBackends: number };
  /** The longest range's plan. */
  plan: PlanSummary;
  /** The shortest range's, for its indexes and JIT. */
  shortPlan: { days: number; plan: PlanSummary };
  checks: Check[];
  server: { exitCode: number | null; output: string };
};

export type RunInfo = { size: Size; command: string; databaseVersion: string; external: boolean; wallSeconds: number; machine?: Calibration };

/**
 * The targets, p50 at full size (200 agents, 8,000 tickets a day): the weekly
 * report (the page's "Last 7 days") and a team's month answer within 2 s; the
 * whole desk's month within 10 s. A first target of 2 s for the whole month
 * was not met (7 s): that needs rollups, not a faster read (decision 039).
 */
const TARGETS = [
  { procedure: 'agents', days: 7, team: false, p50Ms: 2_000 },
  { procedure: 'agents', days: 30, team: true, p50Ms: 2_000 },
  { procedure: 'agents', days: 30, team: false, p50Ms: 10_000 },
] as const;
/** A smoke run's bound on its longest range, every agent, on a tiny desk. */
const SMOKE_P50_MS = 2_000;
/** Seeding slower than this is worth saying: the issue asked for about a minute at most. */
const SEED_BUDGET_S = 60;

const ms = (value: number) => fixed(value, value < 10 ? 1 : 0);

function targetChecks(m: Measured, size: Size): Check[] {
  const measured = (c: Case | undefined, p50Ms: number, name: string): Check => ({
    name: `${name}, p50 under ${whole(p50Ms)} ms`,
    value: c ? `${ms(c.p50Ms)} ms p50 (max ${ms(c.maxMs)} ms, ${c.runsMs.length} runs)` : 'not measured',
    pass: c ? c.p50Ms < p50Ms : false,
  });
  if (size.name === 'smoke') {
    const longest = Math.max(...size.rangeDays);
    const c = m.cases.find((x) => x.procedure === 'agents' && x.days === longest && !x.team);
    return [measured(c, SMOKE_P50_MS, `reports.agents over ${longest} days, every agent (smoke: ${size.history.agents} agents)`)];
  }
  return TARGETS.map((t) =>
    measured(
      m.cases.find((x) => x.procedure === t.procedure && x.days === t.days && x.team === t.team),
      t.p50Ms,
      `reports.${t.procedure} over ${t.days} days for ${t.team ? 'one team' : `every agent (${size.history.agents})`}`,
    ),
  );
}

const planLines = (lines: readonly PlanLine[]) =>
  lines.map((l) => `${'  '.repeat(l.depth)}${l.text} — ${ms(l.ms)} ms`).join('\n');

const indexUse = (plan: PlanSummary, index: string): string => {
  const uses = plan.indexes.filter((i) => i.index === index);
  return uses.length
    ? `used — ${uses.map((u) => `${u.node} on ${u.relation}, ${whole(u.rows)} rows × ${whole(u.loops)} loops, ${ms(u.ms)} ms`).join('; ')}`
    : 'NOT used';
};

function planSection(plan: PlanSummary, longest: number, short: Measured['shortPlan']): string[] {
  const out: string[] = [];
  out.push(
    `The facts statement (db/queries/reports.ts, reportFacts) for every agent over ${longest} days, once, under ` +
      '`EXPLAIN (ANALYZE, BUFFERS)` on its own connection, with the parameters given (a custom plan):',
    '',
  );
  out.push(
    `- total: ${ms(plan.executionMs)} ms execution + ${ms(plan.planningMs)} ms planning; ${whole(plan.rows)} fact rows; ` +
      `buffers ${whole(plan.buffers.hit)} hit, ${whole(plan.buffers.read)} read, ${whole(plan.buffers.tempWritten)} temp blocks written`,
  );
  out.push(
    plan.jit
      ? `- JIT: ${whole(plan.jit.functions)} functions compiled in ${ms(plan.jit.ms)} ms (part of the execution time; ` +
          'compiled when the first expression runs, so the first node executed carries it)'
      : '- JIT: not used',
  );
  for (const index of REPORT_INDEXES) out.push(`- ${index} (0013_reports.sql): ${indexUse(plan, index)}`);
  const others = [...new Set(plan.indexes.map((i) => i.index))].filter((i) => !(REPORT_INDEXES as readonly string[]).includes(i));
  out.push(`- other indexes read: ${others.length ? others.join(', ') : 'none'}`);
  const s = short.plan;
  out.push(
    `- the same over ${short.days} day${short.days === 1 ? '' : 's'}: ${ms(s.executionMs)} ms execution, ` +
      `${s.jit ? `of which JIT ${ms(s.jit.ms)} ms (${whole(s.jit.functions)} functions)` : 'no JIT'}; ` +
      REPORT_INDEXES.map((index) => `${index} ${s.reportIndexesUsed.includes(index) ? 'used' : 'NOT used'}`).join(', '),
  );
  out.push('', 'Top lines (the CTEs and the branches of the final UNION ALL; times include their children):', '', '```', planLines(plan.top), '```', '');
  if (plan.hotSpots.length) {
    out.push('Hot spots (joins that threw away a million rows or more, and what spilled to disk; times include children):', '', '```', planLines(plan.hotSpots.map((l) => ({ ...l, depth: 0 }))), '```', '');
  }
  return out;
}

export function renderReport(measured: Measured | { broken: string; serverOutput?: string }, info: RunInfo): { markdown: string; passed: boolean } {
  const { size } = info;
  const h = size.history;
  const out: string[] = [];
  out.push(`# Reports benchmark — ${size.name}${size.name === 'smoke' ? ' (not the target size)' : ''}`, '');
  out.push(`- date: ${new Date().toISOString()}`);
  out.push(`- node: ${process.version}; nproc: ${availableParallelism()}; PostgreSQL ${info.databaseVersion} (${info.external ? 'external' : 'embedded'})`);
  out.push(calibrationLine(info.machine));
  out.push(`- command: \`${info.command}\``);
  out.push(`- code: ${codeVersion()}`);
  out.push(`- wall time: ${info.wallSeconds.toFixed(0)} s`);
  out.push(
    `- desk: ${whole(h.agents)} agents in ${h.teams} teams, ${h.days} days of history; per agent and day a 9-hour shift from the agent's own ` +
      `minute of the day (some cross midnight) with ${h.statusChanges} status changes, ${h.otherEventsPerChange} presence events after each that ` +
      `change no status (devices, load), and ${h.ticketsPerShift} chat tickets (created, offered, accepted, completed after 4–29 min; 1 in 10 first ` +
      'declined by another agent, 1 in 20 first let expire, 1 in 25 released and accepted again)',
  );
  if ('broken' in measured) {
    out.push('', `**The run broke**: ${measured.broken}`, '');
    if (measured.serverOutput) out.push('Server output:', '', ...summarizeOutput(measured.serverOutput.split('\n').filter(Boolean)).map((l) => `- ${l}`), '');
    return { markdown: out.join('\n'), passed: false };
  }
  const m = measured;
  const rows = m.seeded.rows;
  const seconds = m.seeded.seconds;
  out.push(
    `- seeded: ${whole(rows.presenceEvents)} presence events (${whole(rows.statusChanges)} status changes), ${whole(rows.tickets)} tickets, ` +
      `${whole(rows.ticketEvents)} ticket events, up to ${m.end.toISOString()} (the ranges end there), in ${m.seedSeconds.toFixed(1)} s ` +
      `(desk ${seconds.desk.toFixed(1)} s, presence ${seconds.presence.toFixed(1)} s, tickets ${seconds.tickets.toFixed(1)} s, VACUUM ANALYZE ${seconds.vacuum.toFixed(1)} s)` +
      `${m.seedSeconds > SEED_BUDGET_S ? ` — over the ${SEED_BUDGET_S} s budget` : ''}`,
  );
  out.push(`- tables (with indexes): ${m.database.tables.map((t) => `${t.name} ${fixed(t.mb, 1)} MB`).join(', ')}`);
  out.push(`- PostgreSQL settings: ${m.database.settings.map((s) => `${s.name} ${s.value}`).join(', ')}`);
  out.push(
    `- machine load average (1 min) before / after the timed requests: ${fixed(m.load.before, 2)} / ${fixed(m.load.after, 2)}; ` +
      `statements running in other databases as they began: ${m.load.otherBackends} (the machine is shared: other work counts in these figures)`,
  );
  out.push('');
  out.push(
    markdownTable(
      ['procedure', 'range', 'runs', 'p50 ms', 'max ms', 'response KiB', 'rows'],
      m.cases.map((c) => [`reports.${c.procedure}`, c.range, String(c.runsMs.length), ms(c.p50Ms), ms(c.maxMs), fixed(c.bytes / 1024, 1), whole(c.rows)]),
    ),
    '',
  );
  const checks = [...targetChecks(m, size), ...m.checks];
  out.push(`Checks (${size.name === 'smoke' ? 'smoke: correctness, and the target\'s figure on a tiny desk' : 'full: the targets and correctness'}):`, '');
  for (const c of checks) out.push(`- ${c.pass === undefined ? 'not checked' : c.pass ? 'PASS' : 'FAIL'} — ${c.name}: ${c.value}`);
  out.push('', ...planSection(m.plan, Math.max(...size.rangeDays), m.shortPlan));
  out.push(
    'How to read it:',
    '',
    '- Each case: one untimed request, then the runs timed one after the other from a separate process (Node fetch, plain HTTP, ' +
      'a signed-in admin\'s cookie): request start to the last byte of the body. p50 is the nearest-rank median. A case whose ' +
      `untimed request took over 5 s gets 5 runs. All ranges end at the history's last UTC midnight, in the time zone UTC.`,
    '- The server is one node (server/main.ts, as `npm start` runs it, production build of the pages) with the default pool; ' +
      'its statements run as named prepared statements (decision 016), so after five runs on one connection PostgreSQL may choose a ' +
      'generic plan; the EXPLAIN above is of a custom plan. A generic plan\'s cost estimate may fall under jit_above_cost, ' +
      'and then it runs without JIT: the runs of one case can split into two speeds (see the run times in the notes).',
    '- EXPLAIN ANALYZE times each row, which slows row-heavy nested loops: its total runs above the same statement\'s time in the table.',
    '',
  );
  const serverLines = m.server.output.split('\n').filter(Boolean);
  const errors = serverLines.filter((l) => /"level":"(error|fatal)"|"level":(50|60)/.test(l));
  out.push('Notes:', '');
  out.push(`- the node exited with ${m.server.exitCode}; it logged ${serverLines.length} lines, ${errors.length} of them errors`);
  if (errors.length) out.push(...summarizeOutput(errors).map((l) => `  - ${l}`));
  out.push(`- run times of each case, in ms: ${m.cases.map((c) => `${c.procedure} ${c.range}: ${c.runsMs.map((r) => r.toFixed(0)).join(' ')}`).join('; ')}`);
  out.push('');
  const passed = checks.every((c) => c.pass !== false) && m.server.exitCode === 0;
  return { markdown: out.join('\n'), passed };
}

export function writeReport(measured: Measured | { broken: string; serverOutput?: string }, info: RunInfo): { passed: boolean; file: string } {
  const { markdown, passed } = renderReport(measured, info);
  process.stdout.write(`\n${markdown}\n`);
  return { passed, file: writeReportFile('reports', info.size.name === 'smoke', markdown) };
}
