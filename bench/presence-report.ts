// The presence benchmark's report: one table (a row per mode), the ratios of
// the baselines to the product, the batched mode's targets with PASS/FAIL,
// and notes on anything that went wrong. Printed, and written to
// bench/results/presence-<smoke|full>.md with the date, Node, nproc and command.
import { availableParallelism } from 'node:os';
import type { LatencySummary } from './lib/latency';
import { fixed, markdownTable, MiB, whole } from './lib/markdown';
import { writeReportFile } from './lib/results-file';
import { summarizeOutput } from './lib/server-process';
import type { StatementRate } from './lib/statement-breakdown';
import type { Recorder } from './presence-devices';
import type { Window } from './presence-measure';
import { MODE_LABELS, type Mode } from './presence-modes';
import type { Size } from './presence';

export type MeasuredMode = {
  mode: Mode;
  devices: number;
  attached: number;
  /** Devices still attached at the end of the steady window. */
  stillAttached: number;
  connectSeconds: number;
  connectFailures: Record<string, number>;
  idle: { window: Window; rssBytes: number };
  steady: {
    window: Window;
    recorder: Recorder;
    latency: LatencySummary;
    peakRssBytes: number;
    /** Sessions online by the store's own measure at the end of the window. */
    online: number;
    /** Devices with at least one heartbeat acknowledged by then. */
    heartbeated: number;
  };
  stress: { window: Window; acked: number; recorder: Recorder; latency: LatencySummary };
  fleet: { acked: number; errors: number; ended: number; closedAfterAttach: number; errorSamples: string[] };
  endedSessions: Record<string, number>;
  /** Statements counted with pg_stat_statements; false: only transactions (pg_stat_database). */
  countedStatements: boolean;
  /** The most frequent statements of the steady window, with their idle rates. */
  statements: StatementRate[];
  /** Statements the steady window ran beyond each statement's idle rate (undefined without pg_stat_statements). */
  statementsOverBackground: number | undefined;
  server: { exitCode: number | null; outputCount: number; output: string[] };
};
export type ModeResult = MeasuredMode | { mode: Mode; broken: string };

export type RunInfo = {
  size: Size;
  command: string;
  databaseVersion: string;
  external: boolean;
  skipped: string[];
  wallSeconds?: number;
};

/** The batched mode's targets, at 10,000 devices and the 15 s interval. */
const TARGETS = { devices: 10_000, rssMiB: 1024, cpuPercent: 25, statementsPer1k: 2, ackP99Ms: 20 };
/** The probe's own INFO commands between two readings. */
const PROBE_REDIS_COMMANDS = 2;

type Derived = {
  heartbeatsPerSecond: number;
  cpuPercent: number;
  cpuMsPer1k: number;
  rssMiB: number;
  rssMiBPer1kDevices: number;
  /** Statements (or transactions, without pg_stat_statements) a second while idle. */
  backgroundPerSecond: number;
  statementsPer1k: number;
  rawStatementsPer1k: number;
  transactionsPer1k: number;
  flushesPer1k: number;
  redisCommandsPer1k: number | undefined;
  stressPerSecond: number;
};

function derive(r: MeasuredMode): Derived {
  const s = r.steady.window;
  const per1k = (n: number) => (s.heartbeats > 0 ? (n / s.heartbeats) * 1000 : Number.NaN);
  // Statements when pg_stat_statements counted them, else transactions.
  const countOf = (w: Window) => w.statements ?? w.transactions;
  const backgroundPerSecond = countOf(r.idle.window) / r.idle.window.seconds;
  return {
    heartbeatsPerSecond: s.heartbeats / s.seconds,
    cpuPercent: s.serverCpuPercent,
    cpuMsPer1k: per1k(s.serverCpuMs),
    rssMiB: r.steady.peakRssBytes / MiB,
    rssMiBPer1kDevices: ((r.steady.peakRssBytes - r.idle.rssBytes) / MiB / r.attached) * 1000,
    backgroundPerSecond,
    statementsPer1k: per1k(r.statementsOverBackground ?? countOf(s) - backgroundPerSecond * s.seconds),
    rawStatementsPer1k: per1k(countOf(s)),
    transactionsPer1k: per1k(s.transactions),
    flushesPer1k: per1k(s.flushes),
    redisCommandsPer1k: s.redisCommands === undefined || r.mode !== 'redis' ? undefined : per1k(s.redisCommands - PROBE_REDIS_COMMANDS),
    stressPerSecond: r.stress.acked / r.stress.window.seconds,
  };
}

const isMeasured = (r: ModeResult): r is MeasuredMode => !('broken' in r);

function mainTable(results: readonly MeasuredMode[]): string {
  const headers = [
    'mode',
    'devices',
    'heartbeats/s (steady)',
    'CPU % of a core',
    'CPU ms / 1k hb',
    'RSS MiB total',
    'RSS MiB / 1k devices',
    'DB stmts / 1k hb',
    'DB stmts / 1k hb (raw)',
    'ack p50 ms',
    'ack p99 ms',
    'stress hb/s',
    'stress p99 ms',
  ];
  const rows = results.map((r) => {
    const d = derive(r);
    return [
      MODE_LABELS[r.mode],
      r.attached === r.devices ? whole(r.devices) : `${whole(r.attached)} of ${whole(r.devices)}`,
      fixed(d.heartbeatsPerSecond, 1),
      fixed(d.cpuPercent, 1),
      fixed(d.cpuMsPer1k, 1),
      fixed(d.rssMiB, 0),
      fixed(d.rssMiBPer1kDevices, 1),
      fixed(d.statementsPer1k, 1),
      fixed(d.rawStatementsPer1k, 1),
      fixed(r.steady.latency.p50, 2),
      fixed(r.steady.latency.p99, 2),
      whole(d.stressPerSecond),
      fixed(r.stress.latency.p99, 1),
    ];
  });
  return markdownTable(headers, rows);
}

function ratioTable(results: readonly MeasuredMode[]): string | undefined {
  const batched = results.find((r) => r.mode === 'batched');
  if (!batched) return undefined;
  const base = derive(batched);
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `${fixed(a / b, a / b >= 10 ? 0 : 1)}×` : 'n/a');
  const rows = results
    .filter((r) => r.mode !== 'batched')
    .map((r) => {
      const d = derive(r);
      return [
        `${r.mode} ÷ batched`,
        ratio(d.cpuMsPer1k, base.cpuMsPer1k),
        ratio(d.statementsPer1k, base.statementsPer1k),
        ratio(d.rawStatementsPer1k, base.rawStatementsPer1k),
        ratio(r.steady.latency.p99, batched.steady.latency.p99),
      ];
    });
  if (!rows.length) return undefined;
  return markdownTable(['ratio', 'CPU ms / 1k hb', 'DB stmts / 1k hb', 'DB stmts / 1k hb (raw)', 'ack p99'], rows);
}

function detailTable(results: readonly MeasuredMode[]): string {
  const headers = [
    'mode',
    'attach s (per s)',
    'idle RSS MiB',
    'idle DB stmts/s',
    'engine flushes / 1k hb',
    'DB xacts / 1k hb',
    'Redis cmds / 1k hb',
    'postgres CPU % steady / stress',
    'Redis CPU % steady / stress',
    'server CPU % stress',
    'load gen CPU % steady / stress',
    'ack max ms',
    'online at end',
  ];
  const rows = results.map((r) => {
    const d = derive(r);
    return [
      r.mode,
      `${fixed(r.connectSeconds, 1)} (${whole(r.attached / r.connectSeconds)})`,
      fixed(r.idle.rssBytes / MiB, 0),
      fixed(d.backgroundPerSecond, 1),
      fixed(d.flushesPer1k, 2),
      fixed(d.transactionsPer1k, 1),
      fixed(d.redisCommandsPer1k, 1),
      `${fixed(r.steady.window.databaseCpuPercent, 1)} / ${fixed(r.stress.window.databaseCpuPercent, 0)}`,
      r.mode === 'redis' ? `${fixed(r.steady.window.redisCpuPercent, 1)} / ${fixed(r.stress.window.redisCpuPercent, 0)}` : 'n/a',
      fixed(r.stress.window.serverCpuPercent, 0),
      `${fixed(r.steady.window.loadGeneratorCpuPercent, 1)} / ${fixed(r.stress.window.loadGeneratorCpuPercent, 0)}`,
      fixed(r.steady.latency.max, 1),
      `${whole(r.steady.online)} of ${whole(r.attached)} (${whole(r.steady.heartbeated)} had heartbeated)`,
    ];
  });
  return markdownTable(headers, rows);
}

function statementTable(r: MeasuredMode): string {
  const hb = r.steady.window.heartbeats / r.steady.window.seconds;
  const rows = r.statements.map((st) => [
    `\`${st.query.length > 110 ? `${st.query.slice(0, 107)}...` : st.query}\``.replaceAll('|', '\\|'),
    fixed(st.idlePerSecond, 2),
    fixed(st.loadedPerSecond, 2),
    fixed(hb > 0 ? (st.loadedPerSecond / hb) * 1000 : Number.NaN, 2),
  ]);
  return markdownTable(['statement', 'idle /s', 'steady /s', 'steady / 1k hb'], rows);
}

type Check = { name: string; value: string; pass: boolean };

function targetChecks(batched: MeasuredMode, size: Size): Check[] {
  const d = derive(batched);
  const devices = size.name === 'full' ? TARGETS.devices : size.devices;
  return [
    {
      name: `${whole(devices)} devices under ${TARGETS.rssMiB} MiB RSS`,
      value: `${whole(batched.attached)} attached, ${fixed(d.rssMiB, 0)} MiB`,
      pass: batched.attached >= devices && d.rssMiB < TARGETS.rssMiB,
    },
    {
      name: `under ${TARGETS.cpuPercent} % of one core at the 15 s interval`,
      value: `${fixed(d.cpuPercent, 1)} %`,
      pass: d.cpuPercent < TARGETS.cpuPercent,
    },
    {
      name: `at most ${TARGETS.statementsPer1k} DB statements per 1,000 heartbeats`,
      value: `${fixed(d.statementsPer1k, 2)} (engine flushes: ${whole(batched.steady.window.flushes)} in ${fixed(batched.steady.window.seconds, 0)} s = ${fixed(d.flushesPer1k, 2)} / 1k hb; raw, with the node's background work: ${fixed(d.rawStatementsPer1k, 1)})`,
      pass: d.statementsPer1k <= TARGETS.statementsPer1k,
    },
    {
      name: `ack p99 under ${TARGETS.ackP99Ms} ms`,
      value: `${fixed(batched.steady.latency.p99, 2)} ms`,
      pass: batched.steady.latency.p99 < TARGETS.ackP99Ms,
    },
  ];
}

function notes(results: readonly ModeResult[], info: RunInfo): string[] {
  const lines: string[] = [];
  for (const skipped of info.skipped) lines.push(`- skipped ${skipped}`);
  for (const r of results) {
    if (!isMeasured(r)) {
      lines.push(`- **${r.mode} broke**: ${r.broken.split('\n')[0]}`);
      continue;
    }
    const problems: string[] = [];
    if (r.attached < r.devices) {
      const why = Object.entries(r.connectFailures).map(([reason, n]) => `${n}× ${reason}`).join('; ');
      problems.push(`${r.devices - r.attached} devices never attached (${why})`);
    }
    if (r.stillAttached < r.attached) problems.push(`${r.attached - r.stillAttached} devices lost their session before the end of the steady window`);
    // Redis learns of a device at its first heartbeat; the database at attach.
    const expectedOnline = r.mode === 'redis' ? r.steady.heartbeated : r.attached;
    if (r.steady.online < expectedOnline) problems.push(`only ${r.steady.online} of ${expectedOnline} sessions were online by the store's own measure`);
    if (!r.countedStatements) problems.push('pg_stat_statements was not loaded: DB stmts are transactions (pg_stat_database)');
    if (r.fleet.errors) problems.push(`${r.fleet.errors} heartbeats answered with an error (e.g. ${r.fleet.errorSamples.slice(0, 2).join(' | ')})`);
    if (r.fleet.ended) problems.push(`${r.fleet.ended} sessions were ended by the server`);
    const ended = Object.entries(r.endedSessions).map(([reason, n]) => `${n} ${reason}`).join(', ');
    if (ended) problems.push(`device sessions ended in the database before teardown: ${ended}`);
    if (r.steady.recorder.acked === 0) problems.push('no heartbeat acknowledged in the steady window');
    if (r.server.exitCode !== 0) problems.push(`server exit code ${r.server.exitCode}`);
    if (r.server.outputCount) problems.push(`server printed ${r.server.outputCount} log lines: ${summarizeOutput(r.server.output).join(' · ')}`);
    lines.push(`- ${r.mode}: ${problems.length ? problems.join('; ') : 'no errors; every device attached and stayed online'}`);
  }
  return lines;
}

export function renderReport(results: readonly ModeResult[], info: RunInfo): { markdown: string; passed: boolean } {
  const measured = results.filter(isMeasured);
  const { size } = info;
  const out: string[] = [];
  out.push(`# Presence benchmark — ${size.name}${size.name === 'smoke' ? ' (not the target size)' : ''}`, '');
  out.push(`- date: ${new Date().toISOString()}`);
  out.push(`- node: ${process.version}; nproc: ${availableParallelism()}; PostgreSQL ${info.databaseVersion} (${info.external ? 'external' : 'embedded'})`);
  out.push(`- command: \`${info.command}\``);
  if (info.wallSeconds !== undefined) out.push(`- wall time: ${info.wallSeconds.toFixed(0)} s`);
  out.push(
    `- load: ${whole(size.devices)} devices, each its own WebSocket, run from a load-generator process apart from the server, heartbeating every 15 s (±2 %, phases spread); ` +
      `steady window ${size.steadyMs / 1000} s after all attached; stress ${size.stressMs / 1000} s with 128 heartbeats in flight`,
    '',
  );
  if (measured.length) out.push(mainTable(measured), '');
  const ratios = ratioTable(measured);
  if (ratios) out.push('Ratios (baseline ÷ product; higher means the product does better):', '', ratios, '');

  const batched = measured.find((r) => r.mode === 'batched');
  let targetsPassed = false;
  if (batched) {
    const checks = targetChecks(batched, size);
    targetsPassed = checks.every((c) => c.pass);
    const label = size.name === 'smoke' ? 'smoke: not the target size' : 'target';
    out.push(`Targets for the batched mode (${label}):`, '');
    for (const c of checks) out.push(`- ${c.pass ? 'PASS' : 'FAIL'} — ${c.name}: ${c.value}`);
    out.push('');
  }

  if (measured.length) out.push('Details:', '', detailTable(measured), '');
  for (const r of measured) {
    if (r.statements.length) {
      out.push(`Statements, ${r.mode} (pg_stat_statements; the busiest, then those that grew most under load):`, '', statementTable(r), '');
    }
  }
  out.push(
    'How to read it:',
    '',
    '- CPU and RSS are the server process only (/proc/<pid>/stat utime+stime, /proc/<pid>/status VmRSS, peak of 1 s samples in the steady window); ' +
      'RSS / 1k devices is that peak minus the idle RSS measured before any device connected. PostgreSQL and Redis CPU are in the details.',
    '- DB stmts (raw) counts the statements the benchmark database ran in the steady window (pg_stat_statements calls, top level; ' +
      'BEGIN, COMMIT and other utility commands not tracked; the probe\'s own queries left out). It includes the node\'s own background work ' +
      '(its row renewed every 5 s, the presence sweep offered through pg-boss every 5 s, pg-boss polling its queue every 0.5 s and ' +
      'running its maintenance in a burst once a minute). DB stmts estimates what the heartbeats cost: ' +
      'for each statement, its calls beyond the rate it ran at while the node was idle, before devices connected (over a minute at ' +
      'the full size, so that both windows hold one maintenance burst), never below zero, summed. The breakdown below lists the ' +
      'busiest statements and those that grew under load. ' +
      'DB xacts (details) is pg_stat_database xact_commit + xact_rollback: a statement outside a transaction is one transaction; ' +
      'backends report these up to 10 s late, which is why the statements come from pg_stat_statements.',
    '- Engine flushes are the batched last-seen UPDATEs the engine itself counted (one statement each).',
    '- Ack latency is measured in the load generator, from sending a heartbeat mutation to its reply.',
    '- Baselines: the engine also batches "seen" times from every socket message; the baseline server turns that off so that each ' +
      'heartbeat is written exactly once, by its sink. In the Redis mode the database session lease (SESSION_TTL_MS) is lifted, since ' +
      'Redis holds presence there.',
    '',
  );
  out.push('Notes:', '', ...notes(results, info), '');

  const anyBroken = results.some((r) => !isMeasured(r));
  const anySilent = measured.some((r) => r.steady.recorder.acked === 0);
  const passed = !anyBroken && !anySilent && measured.length > 0 && (size.name === 'smoke' || targetsPassed);
  return { markdown: out.join('\n'), passed };
}

export function writeReport(results: readonly ModeResult[], info: RunInfo): { passed: boolean; file: string } {
  const { markdown, passed } = renderReport(results, info);
  process.stdout.write(`\n${markdown}\n`);
  // Full runs are the figures to keep (committed); smoke runs, made by every
  // `npm test`, go where git does not look.
  return { passed, file: writeReportFile('presence', info.size.name === 'smoke', markdown) };
}
