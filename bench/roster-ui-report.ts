// The roster-UI benchmark's report: one table of what the page did (first
// render, frames, long tasks, rows touched per change, heap), the targets with
// PASS/FAIL, and notes. Printed, and written to bench/results/roster-ui-full.md
// (full runs, kept) or .test-data/bench/roster-ui-smoke.md (smoke runs).
import { availableParallelism } from 'node:os';
import { summarize, type LatencySummary } from './lib/latency';
import { fixed, markdownTable, MiB, whole } from './lib/markdown';
import { writeReportFile } from './lib/results-file';
import type { Status } from './roster-ui-agents';
import type { CpuUse } from './roster-ui-cpu';
import type { ProbeData } from './roster-ui-probe';
import type { Size } from './roster-ui';

export type Change = { index: number; name: string; status: Status; sentAt: number };
/** The renderer's main-thread time so far (CDP Performance.getMetrics), in ms. */
export type MainThread = { taskMs: number; scriptMs: number; layoutMs: number; styleMs: number };

export type Measured = {
  size: Size;
  agents: number;
  probe: ProbeData;
  /** Page clock (performance.now()) bounds of the windows, and when every change showed. */
  windows: { idle: [number, number]; changes: [number, number]; reflectedAt: number };
  /** Main-thread time readings at the start and end of the idle and change windows. */
  mainThread: { idle: [MainThread, MainThread]; changes: [MainThread, MainThread] };
  /** Cores busy on the machine and in the processes under test, per window. */
  cpu: { idle: CpuUse; changes: CpuUse };
  heapAfterRender: number;
  heapAfterChanges: number;
  changes: Change[];
  /** Changes the server reported as changing the agent's row. */
  applied: number;
  errors: string[];
  agentsChanged: number;
  /** Changed agents whose row did not show their last status in the end. */
  mismatched: number;
  counts: { page: Record<string, number>; database: Record<string, number> };
};

export type RunInfo = { size: Size; command: string; external: boolean; wallSeconds: number; serverOutput: string };

/** Targets at the full size (2,000 agents, 50 changes/s). */
export const TARGETS = { frameGapP99Ms: 50, longTaskMs: 100, rowsPerChange: 1.5 };
/** Smoke runs check correctness, and that a change still touches about one row; timing is not asserted there. */
const SMOKE_ROWS_PER_CHANGE = 2;

type Derived = {
  idleFrames: LatencySummary;
  changeFrames: LatencySummary;
  framesOver50: number;
  longAfterRender: { count: number; longest: number; over: number; totalMs: number };
  longDuringChanges: { count: number; longest: number };
  longestBeforeRender: number;
  rowsPerChange: number;
  clockRowsPerSecond: number;
  applyLatency: LatencySummary;
  countsMatch: boolean;
};

function gaps(frames: readonly number[], [from, to]: readonly [number, number]): number[] {
  const inside = frames.filter((t) => t >= from && t <= to);
  return inside.slice(1).map((t, i) => t - (inside[i] ?? t));
}

/** Send → row shows it: the first status change of that agent to that status seen after the send. */
function applyLatencies(changes: readonly Change[], seen: ProbeData['statusSeen']): number[] {
  const byName = new Map<string, ProbeData['statusSeen']>();
  for (const s of seen) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const out: number[] = [];
  for (const c of changes) {
    const hit = byName.get(c.name)?.find((s) => s.status === c.status && s.at >= c.sentAt);
    if (hit) out.push(hit.at - c.sentAt);
  }
  return out;
}

function derive(m: Measured): Derived {
  const { probe, windows } = m;
  const render = probe.firstFullRenderMs ?? Number.POSITIVE_INFINITY;
  const after = probe.longTasks.filter((t) => t.start >= render);
  const during = probe.longTasks.filter((t) => t.start >= windows.changes[0] && t.start <= windows.changes[1]);
  const changeGaps = gaps(probe.frames, windows.changes);
  const statuses = new Set([...Object.keys(m.counts.page), ...Object.keys(m.counts.database)]);
  return {
    idleFrames: summarize(gaps(probe.frames, windows.idle)),
    changeFrames: summarize(changeGaps),
    framesOver50: changeGaps.filter((g) => g > 50).length,
    longAfterRender: {
      count: after.length,
      longest: Math.max(0, ...after.map((t) => t.duration)),
      over: after.filter((t) => t.duration > TARGETS.longTaskMs).length,
      totalMs: after.reduce((sum, t) => sum + t.duration, 0),
    },
    longDuringChanges: { count: during.length, longest: Math.max(0, ...during.map((t) => t.duration)) },
    longestBeforeRender: Math.max(0, ...probe.longTasks.filter((t) => t.start < render).map((t) => t.duration)),
    rowsPerChange: m.applied > 0 ? probe.rowTouches / m.applied : Number.NaN,
    clockRowsPerSecond: probe.clockRowTouches / ((windows.reflectedAt - windows.changes[0]) / 1000),
    applyLatency: summarize(applyLatencies(m.changes, probe.statusSeen)),
    countsMatch: [...statuses].every((s) => (m.counts.page[s] ?? 0) === (m.counts.database[s] ?? 0)),
  };
}

type Check = { name: string; value: string; pass: boolean };

function checks(m: Measured, d: Derived): Check[] {
  const smoke = m.size.name === 'smoke';
  const list: Check[] = [
    {
      name: `the table holds all ${whole(m.agents)} agents`,
      value: `${whole(m.probe.rows)} rows`,
      pass: m.probe.firstFullRenderMs !== null && m.probe.rows === m.agents,
    },
    {
      name: 'every change shows: each changed agent ends on its last status, no change failed',
      value: `${whole(m.agentsChanged - m.mismatched)} of ${whole(m.agentsChanged)} agents, ${m.errors.length} errors`,
      pass: m.mismatched === 0 && m.errors.length === 0 && m.applied > 0,
    },
    {
      name: 'the counts by status match the database',
      value: `page ${JSON.stringify(m.counts.page)}, database ${JSON.stringify(m.counts.database)}`,
      pass: d.countsMatch,
    },
  ];
  if (smoke) {
    list.push({
      name: `a change touches about one row (at most ${SMOKE_ROWS_PER_CHANGE}; smoke: timing not asserted)`,
      value: fixed(d.rowsPerChange, 2),
      pass: d.rowsPerChange <= SMOKE_ROWS_PER_CHANGE,
    });
    return list;
  }
  return [
    ...list,
    {
      name: `frame gap p99 under ${TARGETS.frameGapP99Ms} ms while changes arrive`,
      value: `${fixed(d.changeFrames.p99, 1)} ms`,
      pass: d.changeFrames.p99 < TARGETS.frameGapP99Ms,
    },
    {
      name: `no long task over ${TARGETS.longTaskMs} ms after the first full render`,
      value: `${d.longAfterRender.over} over; longest ${fixed(d.longAfterRender.longest, 0)} ms`,
      pass: d.longAfterRender.over === 0,
    },
    {
      name: `about one row touched per change (at most ${TARGETS.rowsPerChange})`,
      value: fixed(d.rowsPerChange, 2),
      pass: d.rowsPerChange <= TARGETS.rowsPerChange,
    },
  ];
}

/** "task 412 (script 250, layout 90, style 40) ms/s": main-thread busy time per second of a window. */
function busyPerSecond([from, to]: readonly [MainThread, MainThread], [start, end]: readonly [number, number]): string {
  const perSecond = (key: keyof MainThread) => fixed((to[key] - from[key]) / ((end - start) / 1000), 0);
  return `${perSecond('taskMs')} (script ${perSecond('scriptMs')}, layout ${perSecond('layoutMs')}, style ${perSecond('styleMs')})`;
}

function cores(use: CpuUse): string {
  return `${fixed(use.machine, 2)} of ${availableParallelism()}: Chromium ${fixed(use.chromium, 2)}, node ${fixed(use.node, 2)}, PostgreSQL ${fixed(use.postgres, 2)}, bench ${fixed(use.bench, 2)}, other processes ${fixed(use.others, 2)}`;
}

function mainTable(m: Measured, d: Derived): string {
  const seconds = (m.windows.changes[1] - m.windows.changes[0]) / 1000;
  return markdownTable(
    ['measure', 'value'],
    [
      ['agents (rows)', whole(m.agents)],
      ['first full render (navigation → all rows in the table)', `${fixed(m.probe.firstFullRenderMs ?? Number.NaN, 0)} ms`],
      ['longest task before it (snapshot render)', `${fixed(d.longestBeforeRender, 0)} ms`],
      ['frame gap while idle p50 / p99 / max', `${fixed(d.idleFrames.p50, 1)} / ${fixed(d.idleFrames.p99, 1)} / ${fixed(d.idleFrames.max, 1)} ms`],
      ['main thread busy while idle, ms per s', busyPerSecond(m.mainThread.idle, m.windows.idle)],
      ['cores busy while idle', cores(m.cpu.idle)],
      ['changes sent / applied (rate)', `${whole(m.changes.length)} / ${whole(m.applied)} (${fixed(m.changes.length / seconds, 1)}/s over ${fixed(seconds, 1)} s)`],
      ['frame gap during changes p50 / p99 / max', `${fixed(d.changeFrames.p50, 1)} / ${fixed(d.changeFrames.p99, 1)} / ${fixed(d.changeFrames.max, 1)} ms`],
      ['frames over 50 ms during changes', `${whole(d.framesOver50)} of ${whole(d.changeFrames.count)}`],
      ['main thread busy during changes, ms per s', busyPerSecond(m.mainThread.changes, m.windows.changes)],
      ['cores busy during changes', cores(m.cpu.changes)],
      ['long tasks after first render: count / longest / total', `${whole(d.longAfterRender.count)} / ${fixed(d.longAfterRender.longest, 0)} ms / ${fixed(d.longAfterRender.totalMs, 0)} ms`],
      ['long tasks during changes: count / longest', `${whole(d.longDuringChanges.count)} / ${fixed(d.longDuringChanges.longest, 0)} ms`],
      ['rows touched per applied change (clock cells aside)', `${fixed(d.rowsPerChange, 2)} (${whole(m.probe.rowTouches)} rows in ${whole(m.probe.callbacks)} DOM updates)`],
      ['most rows touched by one DOM update', whole(m.probe.maxRowsInOneCallback)],
      ['rows whose clock cells alone changed, per second', fixed(d.clockRowsPerSecond, 1)],
      ['change sent → row shows it p50 / p99 / max', `${fixed(d.applyLatency.p50, 0)} / ${fixed(d.applyLatency.p99, 0)} / ${fixed(d.applyLatency.max, 0)} ms (${whole(d.applyLatency.count)} matched)`],
      ['JS heap used after first render / after changes (after GC)', `${fixed(m.heapAfterRender / MiB, 1)} / ${fixed(m.heapAfterChanges / MiB, 1)} MiB`],
      ['DOM elements', whole(m.probe.domNodes)],
    ],
  );
}

/** Distinct lines the server printed at warn or error level, most frequent first. */
function serverProblems(output: string): string[] {
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level !== 'warn' && entry.level !== 'error') continue;
      const key = `${entry.level}: ${entry.msg ?? ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([line, n]) => `${n}× ${line}`);
}

export function renderReport(result: Measured | { broken: string }, info: RunInfo): { markdown: string; passed: boolean } {
  const { size } = info;
  const out: string[] = [];
  out.push(`# Roster UI benchmark — ${size.name}${size.name === 'smoke' ? ' (not the target size)' : ''}`, '');
  out.push(`- date: ${new Date().toISOString()}`);
  out.push(`- node: ${process.version}; nproc: ${availableParallelism()}; PostgreSQL ${info.external ? 'external' : 'embedded'}; Chromium headless, --disable-gpu`);
  out.push(`- command: \`${info.command}\``);
  out.push(`- wall time: ${info.wallSeconds.toFixed(0)} s`);
  out.push(
    `- load: ${whole(size.agents)} agents in ${size.teams} teams, each with one WebSocket device; the admin's /roster shows them all. ` +
      `After the table first holds every agent: ${size.settleMs / 1000} s settling, ${size.idleMs / 1000} s idle (clocks ticking), ` +
      `then ${size.changesPerSecond} status changes/s for ${size.changeMs / 1000} s, each a random agent choosing another status through presence.setStatus.`,
    '',
  );
  if ('broken' in result) {
    out.push(`**The run broke**: ${result.broken.split('\n')[0]}`, '', '```', result.broken, '```', '');
    return { markdown: out.join('\n'), passed: false };
  }
  const d = derive(result);
  out.push(mainTable(result, d), '');
  const list = checks(result, d);
  out.push(`Targets (${size.name === 'smoke' ? 'smoke: correctness only' : 'target'}):`, '');
  for (const c of list) out.push(`- ${c.pass ? 'PASS' : 'FAIL'} — ${c.name}: ${c.value}`);
  out.push('');
  out.push(
    'How to read it:',
    '',
    '- Everything is measured inside the page. Frame gaps are the intervals between requestAnimationFrame callbacks (16.7 ms at 60 Hz); ' +
      'a gap of 50 ms is two frames dropped. Long tasks come from PerformanceObserver (`longtask`: main-thread tasks over 50 ms).',
    '- Rows touched: a MutationObserver on the table counts, per callback (one per DOM update), the distinct rows written to, ' +
      'leaving out writes to the "In status" and "Last seen" cells, which tick with the clock whatever else happens; summed, then ' +
      'divided by the changes the server applied. About 1 means a change rewrites its own row and nothing else (a change that ' +
      'reordered or refiltered rows would count the rows it moved).',
    '- Change sent → row shows it: from the bench sending presence.setStatus to the row\'s data-status changing in the page ' +
      '(both on this machine\'s clock): the server\'s transaction, NOTIFY, fan-out over the WebSocket, and the page\'s render.',
    '- Main thread busy: the renderer\'s task time per second of the window, and the script, layout and style-recalculation ' +
      'time within it (CDP Performance.getMetrics).',
    '- The JS heap is the page\'s (CDP Runtime.getHeapUsage after a forced GC).',
    `- Everything shares ${availableParallelism()} cores: the node, PostgreSQL, the bench's devices and Chromium. Cores busy ` +
      '(from /proc) says how much of the machine each took, and how much went to processes outside the run (an external ' +
      'PostgreSQL counts there): frame gaps stretch when the page\'s main thread waits for a core. Main-thread busy time is ' +
      'wall time, so it includes such waits.',
    '',
  );
  const notes: string[] = [];
  if (result.errors.length) notes.push(`- ${result.errors.length} changes failed, e.g. ${result.errors.slice(0, 3).join(' | ')}`);
  if (result.mismatched) notes.push(`- ${result.mismatched} changed agents did not show their last status within the wait`);
  const problems = serverProblems(info.serverOutput);
  if (problems.length) notes.push(`- the server logged: ${problems.join(' · ')}`);
  out.push('Notes:', '', ...(notes.length ? notes : ['- no errors; every change showed']), '');
  return { markdown: out.join('\n'), passed: list.every((c) => c.pass) };
}

export function writeReport(result: Measured | { broken: string }, info: RunInfo): { passed: boolean; file: string } {
  const { markdown, passed } = renderReport(result, info);
  process.stdout.write(`\n${markdown}\n`);
  // Full runs are the figures to keep (committed); smoke runs go where git does not look.
  return { passed, file: writeReportFile('roster-ui', info.size.name === 'smoke', markdown) };
}
