// The routing benchmark's report: the latency table with the issue's targets,
// throughput and correctness, PASS/FAIL per check, the figures by slice of
// the run, what the database's backends were doing, and notes on anything that
// went wrong. Printed, and written to bench/results/routing-full.md (full
// runs, kept) or .test-data/bench/routing-smoke.md (smoke runs, every
// `npm test`). Correctness must hold at any size; the latency targets apply to
// the full size only (a smoke run bounds latency loosely).
import { availableParallelism } from 'node:os';
import type { Activity } from './lib/database-activity';
import { summarize } from './lib/latency';
import { fixed, markdownTable, MiB, whole } from './lib/markdown';
import { summarizeOutput } from './lib/server-process';
import { codeVersion, writeReportFile } from './lib/results-file';
import { calibrationLine, type Calibration } from './lib/calibration';
import type { Size } from './routing';
import type { Analysis } from './routing-analysis';
import type { LoadWindow } from './routing-load';
import type { LockHolding } from './routing-locks';

export type ServerReport = { name: string; exitCode: number | null; outputCount: number; output: string[] };

export type Measured = {
  connected: { agents: number; connected: number; seconds: number; failures: Record<string, number> };
  window: LoadWindow;
  analysis: Analysis;
  agentErrors: Record<string, number>;
  reoffers: number;
  watchRestarts: number;
  sessionsRenewed: number;
  servers: ServerReport[];
};

export type RunInfo = { size: Size; command: string; databaseVersion: string; external: boolean; wallSeconds: number; machine?: Calibration };

/** The issue's targets at full size; a smoke run (small, a busy 2-core CI machine) only bounds latency loosely. */
const TARGETS = { createToOfferP99Ms: 50, queuedToOfferP99Ms: 100, smokeP99Ms: 2_000 };

const ms = (value: number) => fixed(value, Math.abs(value) < 10 ? 2 : 1);

type Check = { name: string; value: string; pass: boolean | undefined };

function latencyTable(m: Measured, size: Size): string {
  const a = m.analysis;
  const smoke = size.name === 'smoke';
  const bound = (target: number) => (smoke ? `p99 < ${whole(TARGETS.smokeP99Ms)} ms (smoke bound)` : `p99 < ${whole(target)} ms`);
  const rows: Array<[string, number[], string]> = [
    ['create-to-offer, end to end: create request start → agent client sees the offer', a.createToOfferMs, bound(TARGETS.createToOfferP99Ms)],
    ['queued-to-offer after capacity frees, end to end: freeing work.complete answered → agent client sees the offer', a.queuedToOfferMs, bound(TARGETS.queuedToOfferP99Ms)],
    ['queued-to-offer after capacity frees, ticket_events: freeing event at → offered at', a.queuedToOfferDbMs, ''],
    ['create-to-offer, ticket_events: offered at − created at (one transaction: 0 by construction)', a.createToOfferDbMs, ''],
    ['create answer: tickets.create over HTTP, request start → response', a.createAnswerMs, ''],
    ['first offer − created, ticket_events, every ticket (includes waiting in the queue)', a.createToFirstOfferDbMs, ''],
    ['accept: offer seen → work.accept answered', a.acceptAnswerMs, ''],
    ['complete: work.complete sent → answered', a.completeAnswerMs, ''],
  ];
  return markdownTable(
    ['latency', 'tickets', 'p50 ms', 'p99 ms', 'max ms', 'target'],
    rows.map(([label, samples, target]) => {
      const s = summarize(samples);
      return [label, whole(s.count), ms(s.p50), ms(s.p99), ms(s.max), target];
    }),
  );
}

function throughputTable(m: Measured): string {
  const a = m.analysis;
  const r = a.replay;
  const w = m.window;
  return markdownTable(
    [
      'tickets created',
      'offered at creation',
      'waited in queue',
      'tickets/s created',
      'tickets/s routed',
      'most waiting at once',
      'double assignments',
      'capacity violations',
      'server CPU % (a / b)',
      'server peak RSS MiB (a / b)',
      'PostgreSQL CPU %',
      'load generator CPU %',
    ],
    [
      [
        whole(a.creates.ok),
        whole(a.offers.atCreation),
        whole(a.offers.waited),
        fixed(a.createdPerSecond, 1),
        fixed(a.routedPerSecond, 1),
        whole(r.peakQueued),
        whole(r.doubleAssignments.length),
        whole(r.capacityViolations.length),
        w.servers.map((s) => fixed(s.cpuPercent, 1)).join(' / '),
        w.servers.map((s) => fixed(s.peakRssBytes / MiB, 0)).join(' / '),
        fixed(w.databaseCpuPercent, 1),
        fixed(w.loadGeneratorCpuPercent, 1),
      ],
    ],
  );
}

function sliceTable(m: Measured): string {
  const p99 = (samples: number[]) => (samples.length ? ms(summarize(samples).p99) : '');
  return markdownTable(
    ['created from s', 'created', 'at creation', 'waited', 'create answer p99', 'create-to-offer p50 / p99', 'queued-to-offer e2e p50 / p99', 'queued-to-offer log p99'],
    m.analysis.slices.map((s) => {
      const c = summarize(s.createToOfferMs);
      const q = summarize(s.queuedToOfferMs);
      return [
        fixed(s.fromMs / 1000, 0),
        whole(s.created),
        whole(s.atCreation),
        whole(s.waited),
        p99(s.createAnswerMs),
        c.count ? `${ms(c.p50)} / ${ms(c.p99)}` : '',
        q.count ? `${ms(q.p50)} / ${ms(q.p99)}` : '',
        p99(s.queuedToOfferDbMs),
      ];
    }),
  );
}

const ACTIVITY_ROWS = 10;

function activityTable(activity: readonly Activity[]): string {
  return markdownTable(
    ['backends (average)', 'state', 'waiting on', 'statement'],
    activity.slice(0, ACTIVITY_ROWS).map((x) => [fixed(x.backends, 2), x.state, x.wait || 'running', `\`${x.query}\``.replaceAll('|', '\\|')]),
  );
}

function lockTable(holding: readonly LockHolding[]): string {
  return markdownTable(
    ['holders (average)', 'lock', 'holder state', 'waiting on', 'statement'],
    holding.slice(0, ACTIVITY_ROWS).map((h) => [fixed(h.holders, 2), h.lock, h.state, h.wait || 'running', `\`${h.query}\``.replaceAll('|', '\\|')]),
  );
}

function checks(m: Measured, size: Size): Check[] {
  const a = m.analysis;
  const r = a.replay;
  const smoke = size.name === 'smoke';
  const createP99 = summarize(a.createToOfferMs).p99;
  const queuedP99 = summarize(a.queuedToOfferMs).p99;
  const queuedDbP99 = summarize(a.queuedToOfferDbMs).p99;
  const failedCreates = a.creates.sent - a.creates.ok;
  const clientErrors = Object.values(m.agentErrors).reduce((n, x) => n + x, 0);
  const latency = (target: number, p99: number, count: number): boolean | undefined =>
    count === 0 ? (smoke ? undefined : false) : p99 < (smoke ? TARGETS.smokeP99Ms : target);
  return [
    {
      name: 'every agent connected; every ticket created, offered, accepted and completed',
      value:
        `${whole(m.connected.connected)} of ${whole(m.connected.agents)} agents; ${whole(a.creates.ok)} of ${whole(a.creates.sent)} created; ` +
        `${whole(a.offers.first)} offered (${whole(a.offers.neverOffered)} never); ${whole(a.offers.completed)} completed; ${whole(clientErrors)} client errors`,
      pass:
        m.connected.connected === m.connected.agents && failedCreates === 0 && a.offers.neverOffered === 0 && a.offers.completed === a.creates.ok && clientErrors === 0,
    },
    { name: 'no double assignments', value: `${whole(r.doubleAssignments.length)}`, pass: r.doubleAssignments.length === 0 },
    { name: 'no capacity violations', value: `${whole(r.capacityViolations.length)} (the most any agent held: ${r.peakLoad.open} of ${r.peakLoad.capacity})`, pass: r.capacityViolations.length === 0 },
    { name: 'the ticket log replays without an inconsistency', value: `${whole(r.inconsistencies.length)} of ${whole(r.events)} events`, pass: r.inconsistencies.length === 0 },
    {
      name: `create-to-offer p99 under ${smoke ? `${whole(TARGETS.smokeP99Ms)} ms (smoke: a loose bound; the target is ${TARGETS.createToOfferP99Ms} ms at full size)` : `${TARGETS.createToOfferP99Ms} ms`}`,
      value: `${ms(createP99)} ms end to end (${whole(a.createToOfferMs.length)} tickets offered at creation)`,
      pass: latency(TARGETS.createToOfferP99Ms, createP99, a.createToOfferMs.length),
    },
    {
      name: `queued-to-offer p99 under ${smoke ? `${whole(TARGETS.smokeP99Ms)} ms (smoke: a loose bound; the target is ${TARGETS.queuedToOfferP99Ms} ms at full size)` : `${TARGETS.queuedToOfferP99Ms} ms`} after capacity frees`,
      value: `${ms(queuedP99)} ms end to end; ${ms(queuedDbP99)} ms in ticket_events (${whole(a.queuedToOfferMs.length)} tickets that waited)`,
      pass: latency(TARGETS.queuedToOfferP99Ms, queuedP99, a.queuedToOfferMs.length),
    },
  ];
}

function notes(m: Measured): string[] {
  const a = m.analysis;
  const problems: string[] = [];
  const list = (entries: Iterable<[string, number]>) => [...entries].map(([reason, n]) => `${n}× ${reason}`).join('; ');
  if (Object.keys(m.connected.failures).length) problems.push(`agents that never connected: ${list(Object.entries(m.connected.failures))}`);
  if (a.creates.failures.size) problems.push(`creates that failed: ${list(a.creates.failures)}`);
  if (Object.keys(m.agentErrors).length) problems.push(`agent client errors: ${list(Object.entries(m.agentErrors))}`);
  if (!m.window.drained) problems.push(`tickets still open ${whole(m.window.drainMs)} ms after the last create`);
  if (m.sessionsRenewed) problems.push(`${m.sessionsRenewed} device sessions the server ended (timeout, node_lost) were opened again`);
  if (m.watchRestarts) problems.push(`${m.watchRestarts} work.watch subscriptions restarted (a socket reconnected)`);
  if (m.reoffers) problems.push(`${m.reoffers} offers of a ticket that another agent's client had been offered before (after that offer ended: see the log checks)`);
  for (const finding of [...a.replay.doubleAssignments, ...a.replay.capacityViolations, ...a.replay.inconsistencies].slice(0, 5)) {
    problems.push(`event ${finding.eventId} (ticket ${finding.ticketId}): ${finding.what}; its log: ${finding.history}`);
  }
  const states = Object.entries(a.states).map(([state, n]) => `${state} ${whole(n)}`).join(', ');
  const lines = [`- tickets by state at the end: ${states}`];
  lines.push(
    `- tickets that waited though the agent they went to had room when they were created (not offered by the creating transaction): ${whole(a.offers.waitedThoughFree)}`,
  );
  for (const server of m.servers) {
    if (server.exitCode !== 0) problems.push(`${server.name} exited with ${server.exitCode}`);
    if (server.outputCount) problems.push(`${server.name} printed ${server.outputCount} lines: ${summarizeOutput(server.output).join(' · ')}`);
  }
  lines.push(`- ${problems.length ? problems.join('\n- ') : 'no errors'}`);
  return lines;
}

export function renderReport(measured: Measured | { broken: string }, info: RunInfo): { markdown: string; passed: boolean } {
  const { size } = info;
  const out: string[] = [];
  out.push(`# Routing benchmark — ${size.name}${size.name === 'smoke' ? ' (not the target size)' : ''}`, '');
  out.push(`- date: ${new Date().toISOString()}`);
  out.push(`- node: ${process.version}; nproc: ${availableParallelism()}; PostgreSQL ${info.databaseVersion} (${info.external ? 'external' : 'embedded'})`);
  out.push(calibrationLine(info.machine));
  out.push(`- command: \`${info.command}\``);
  out.push(`- code: ${codeVersion()}`);
  out.push(`- wall time: ${info.wallSeconds.toFixed(0)} s`);
  const meanHandleS = (size.handleMs.min + size.handleMs.max) / 2000;
  out.push(
    `- load: two server processes on one database; ${whole(size.agents)} agents, each a tRPC WebSocket client from one load-generator process, ` +
      `even-numbered on the first server and odd on the second, each holding a device session (available) and watching work.watch; ` +
      `chat capacity ${size.chatCapacity} per agent (the queue's default; least_loaded, offers); an offer is accepted at once and the ticket ` +
      `completed after a handle time uniform in ${size.handleMs.min / 1000}–${size.handleMs.max / 1000} s (mean ${meanHandleS} s), so the agents ` +
      `can take ${fixed((size.agents * size.chatCapacity) / meanHandleS, 0)} tickets/s in steady state; tickets created over HTTP ` +
      `(tickets.create with an API key) at ${whole(size.ticketsPerSecond)}/s, evenly spaced, alternately on each server, for ` +
      `${size.durationMs / 1000} s (${whole((size.ticketsPerSecond * size.durationMs) / 1000)} tickets)`,
  );
  if ('broken' in measured) {
    out.push('', `**The run broke**: ${measured.broken}`, '');
    return { markdown: out.join('\n'), passed: false };
  }
  const [loadBefore, loadAfter] = measured.window.loadAverage;
  out.push(
    `- machine load average (1 min) when sending began / ended: ${fixed(loadBefore, 2)} / ${fixed(loadAfter, 2)} ` +
      `(the run's own processes count in it, and any other work on the machine)`,
    '',
  );
  out.push(latencyTable(measured, size), '', throughputTable(measured), '');
  const list = checks(measured, size);
  out.push(`Checks (${size.name === 'smoke' ? 'smoke: correctness, and latency within loose bounds' : 'full: correctness and the targets'}):`, '');
  for (const c of list) out.push(`- ${c.pass === undefined ? 'not checked' : c.pass ? 'PASS' : 'FAIL'} — ${c.name}: ${c.value}`);
  out.push('', 'By when the ticket was created (slices of the sending window; latencies in ms):', '', sliceTable(measured), '');
  if (measured.window.databaseActivity.length) {
    out.push('Database backends over the sending window (pg_stat_activity, sampled throughout; the busiest states):', '', activityTable(measured.window.databaseActivity), '');
  }
  if (measured.window.lockHolding.length) {
    out.push('Advisory locks held over the sending window, by what their holder was doing (pg_locks, sampled throughout):', '', lockTable(measured.window.lockHolding), '');
  }
  out.push(
    'How to read it:',
    '',
    '- Create-to-offer covers the tickets offered by the transaction that created them (createTicket tries to offer at once). ' +
      'End to end, from the moment the load generator starts the HTTP request to the moment the agent\'s client receives the ' +
      'work.watch list holding the offer; one clock (performance.now()) in one process. ticket_events cannot time it: both events ' +
      'take the creating transaction\'s now(), its start.',
    '- Queued-to-offer covers the tickets that waited. The capacity a waiting ticket got was freed by the last ending (completed, ' +
      'declined, offer_expired, released, requeued, cancelled) of the agent it was then offered to, before the offer; from that ' +
      'ending to the offer. In ticket_events (SQL over the log after the run): the ending\'s `at` to the offer\'s `at`, each its ' +
      'transaction\'s start — so the claim transaction\'s own time is not in it. End to end: from the completing client\'s ' +
      'answer to its work.complete (the capacity is free once that commits) to the receiving client\'s work.watch list holding ' +
      'the offer. When that agent\'s last ending came before the ticket was created, the agent had room on arrival and the ticket ' +
      'still waited; it is counted in the notes, and timed from its creation (end to end: from the create\'s answer).',
    '- Double assignments and capacity violations come from replaying ticket_events in id order (commit order): an offer of a ' +
      'ticket someone still held, and an offer that put an agent above their channel capacity (the override, else the queue\'s ' +
      'default). Tickets/s routed: offers logged while tickets were being ' +
      'created, per second of that span (the log\'s clock).',
    '- Server CPU is each server process\'s user + system time over the sending window (percent of one core); RSS is each ' +
      'server\'s peak of 1 s samples. PostgreSQL CPU is the postmaster and its backends (on an external server, whatever else it ' +
      'ran too). The servers are bench/presence-server.ts in batched mode: the product as `npm start` runs it, Next.js pages off, ' +
      'default settings (offer timeout 30 s, routing sweep 5 s).',
    '- Database backends: the average number of the database\'s client backends in each state over the sending window. ' +
      '`Lock:advisory` waits for another transaction\'s advisory lock (the ticket and presence event-order locks); `Lock:transactionid`/`Lock:tuple` ' +
      'for a row lock; `Client:ClientRead` inside a transaction is time a node holds the transaction, and its locks, open between statements.',
    '- Advisory locks held: for each transaction-level advisory lock (by key: in this code 7204114 orders presence events, ' +
      '7204116 ticket events), the average number of holders in each state — 1.00 in all would mean the lock was never free. ' +
      'A holder `idle in transaction` is waiting for its node to send the next statement or the commit; `IO:WALSync` is committing.',
    '',
  );
  out.push('Notes:', '', ...notes(measured), '');
  return { markdown: out.join('\n'), passed: list.every((c) => c.pass !== false) };
}

export function writeReport(measured: Measured | { broken: string }, info: RunInfo): { passed: boolean; file: string } {
  const { markdown, passed } = renderReport(measured, info);
  process.stdout.write(`\n${markdown}\n`);
  return { passed, file: writeReportFile('routing', info.size.name === 'smoke', markdown) };
}
