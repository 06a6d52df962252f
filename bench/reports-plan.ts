// The reports' facts statement (db/queries/reports.ts, reportFacts) under
// EXPLAIN (ANALYZE, BUFFERS): the statement is taken from reportFacts itself
// (it is given a handle that keeps the query instead of running it), so the
// plan is of the text the server sends, not of a copy. Summarised for the
// report: total, planning and JIT time; which indexes the plan reads (the
// reports' own three by name); the plan's top lines (the CTEs and the branches
// of the final UNION ALL, with their times); and its hot spots: nested loops
// and joins that throw away a million rows or more, and sorts, hashes and
// aggregates that spilled to disk.
// EXPLAIN ANALYZE times every row; its total runs above the statement's own.
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { factsStatement, REPORT_SESSION } from '../db/queries/reports';

/** The indexes of db/migrations/0013_reports.sql. */
export const REPORT_INDEXES = ['presence_events_agent_at_idx', 'ticket_events_agent_at_idx', 'tickets_ended_idx'] as const;

type PlanNode = {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Subplan Name'?: string;
  'Relation Name'?: string;
  'CTE Name'?: string;
  'Index Name'?: string;
  Alias?: string;
  'Actual Total Time': number;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Join Filter'?: number;
  'Rows Removed by Filter'?: number;
  'Sort Space Type'?: string;
  'Sort Space Used'?: number;
  'Disk Usage'?: number;
  'Temp Written Blocks'?: number;
  Plans?: PlanNode[];
};

type Explained = {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
  JIT?: { Functions: number; Timing: { Total: number } };
};

/** The branches of the facts statement's final UNION ALL, in its order. */
const FACT_BRANCHES = ['status', 'working', 'staffedWorking', 'offers and handled', 'wait', 'end'] as const;

export type PlanLine = { depth: number; text: string; ms: number };

export type PlanSummary = {
  executionMs: number;
  planningMs: number;
  jit: { functions: number; ms: number } | undefined;
  /** Every index the plan reads, with the node that reads it. */
  indexes: { index: string; node: string; relation: string; rows: number; loops: number; ms: number }[];
  /** Of REPORT_INDEXES, those the plan reads. */
  reportIndexesUsed: string[];
  top: PlanLine[];
  hotSpots: PlanLine[];
  /** Rows the statement returned. */
  rows: number;
  /** Shared buffers hit and read, temp blocks written (the whole statement). */
  buffers: { hit: number; read: number; tempWritten: number };
};

/** The SQL text and parameters of the facts statement reportFacts sends for these parameters. */
export function factsQuery(params: Parameters<typeof factsStatement>[0]): { sql: string; params: unknown[] } {
  const query = new PgDialect().sqlToQuery(factsStatement(params));
  return { sql: query.sql, params: query.params };
}

const label = (n: PlanNode): string =>
  [
    n['Subplan Name'] ? `${n['Subplan Name']}:` : '',
    n['Node Type'],
    n['Index Name'] ? `using ${n['Index Name']}` : '',
    n['Relation Name'] ? `on ${n['Relation Name']}` : n['CTE Name'] ? `on ${n['CTE Name']}` : '',
  ]
    .filter(Boolean)
    .join(' ');

const totalMs = (n: PlanNode) => n['Actual Total Time'] * n['Actual Loops'];

function describe(n: PlanNode): string {
  const extra: string[] = [`${n['Actual Rows'].toLocaleString('en-US')} rows`];
  if (n['Actual Loops'] > 1) extra.push(`${n['Actual Loops'].toLocaleString('en-US')} loops`);
  if (n['Rows Removed by Join Filter']) extra.push(`${n['Rows Removed by Join Filter'].toLocaleString('en-US')} removed by join filter`);
  if (n['Sort Space Type'] === 'Disk') extra.push(`sort on disk ${Math.round((n['Sort Space Used'] ?? 0) / 1024)} MB`);
  if (n['Disk Usage']) extra.push(`${Math.round(n['Disk Usage'] / 1024)} MB on disk`);
  return `${label(n)} (${extra.join(', ')})`;
}

function walk(n: PlanNode, visit: (n: PlanNode, depth: number) => void, depth = 0): void {
  visit(n, depth);
  for (const child of n.Plans ?? []) walk(child, visit, depth + 1);
}

/** Runs the statement under EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) on its own connection and summarises the plan. */
export async function explainFacts(url: string, statement: { sql: string; params: unknown[] }): Promise<PlanSummary> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  let explained: Explained;
  try {
    // As reportFacts runs it: the same session settings (without JIT, with room to sort).
    for (const setting of REPORT_SESSION) await sql.unsafe(`set ${setting}`);
    const [row] = await sql.unsafe<{ 'QUERY PLAN': Explained[] }[]>(
      `explain (analyze, buffers, format json) ${statement.sql}`,
      statement.params as postgres.ParameterOrJSON<never>[],
    );
    const first = row?.['QUERY PLAN'][0];
    if (!first) throw new Error('EXPLAIN returned no plan');
    explained = first;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const root = explained.Plan;
  const indexes: PlanSummary['indexes'] = [];
  const hotSpots: PlanLine[] = [];
  walk(root, (n, depth) => {
    if (n['Index Name']) {
      indexes.push({ index: n['Index Name'], node: n['Node Type'], relation: n['Relation Name'] ?? '', rows: n['Actual Rows'], loops: n['Actual Loops'], ms: totalMs(n) });
    }
    const removed = n['Rows Removed by Join Filter'] ?? 0;
    if (removed >= 1_000_000 || n['Sort Space Type'] === 'Disk' || (n['Disk Usage'] ?? 0) > 0) {
      hotSpots.push({ depth, text: describe(n), ms: totalMs(n) });
    }
  });
  const top: PlanLine[] = [{ depth: 0, text: describe(root), ms: totalMs(root) }];
  const branches = (root.Plans ?? []).filter((child) => child['Parent Relationship'] !== 'InitPlan');
  // The UNION ALL's branches, named when there are as many as the statement has kinds of fact.
  const names = branches.length === FACT_BRANCHES.length ? FACT_BRANCHES : undefined;
  for (const child of root.Plans ?? []) {
    const branch = names?.[branches.indexOf(child)];
    top.push({ depth: 1, text: `${branch ? `[${branch}] ` : ''}${describe(child)}`, ms: totalMs(child) });
  }
  const rootBuffers = root as PlanNode & { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
  return {
    executionMs: explained['Execution Time'],
    planningMs: explained['Planning Time'],
    jit: explained.JIT ? { functions: explained.JIT.Functions, ms: explained.JIT.Timing.Total } : undefined,
    indexes,
    reportIndexesUsed: REPORT_INDEXES.filter((name) => indexes.some((i) => i.index === name)),
    top,
    hotSpots: hotSpots.sort((a, b) => b.ms - a.ms),
    rows: root['Actual Rows'],
    buffers: {
      hit: rootBuffers['Shared Hit Blocks'] ?? 0,
      read: rootBuffers['Shared Read Blocks'] ?? 0,
      tempWritten: root['Temp Written Blocks'] ?? 0,
    },
  };
}
