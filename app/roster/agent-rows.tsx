'use client';
// The agents table's body: the rows in groups of ROWS_PER_GROUP, each group
// its own <tbody>. A group is memoised on the rows it holds, so a change
// re-renders its one group (and there its one row) instead of comparing every
// row; and a group off screen is skipped by the browser as a whole
// (content-visibility, roster.module.css), which is much cheaper per frame
// than skipping thousands of rows one by one.
import { memo } from 'react';
import type { RosterRow } from '@/db/queries/roster';
import { AgentRow, type ForceStatus } from './agent-row';
import styles from './roster.module.css';

const ROWS_PER_GROUP = 50;
/** The height of a row with its buttons, for a group not yet shown (then the browser remembers). */
const ROW_HEIGHT_PX = 53;

type GroupProps = { rows: readonly RosterRow[]; onForce: ForceStatus };

const sameRows = (a: GroupProps, b: GroupProps) =>
  a.onForce === b.onForce && a.rows.length === b.rows.length && a.rows.every((row, i) => row === b.rows[i]);

const RowGroup = memo(function RowGroup({ rows, onForce }: GroupProps) {
  return (
    <tbody role="rowgroup" className={styles.group} style={{ containIntrinsicSize: `auto ${rows.length * ROW_HEIGHT_PX}px` }}>
      {rows.map((r) => (
        <AgentRow key={r.agentId} row={r} onForce={onForce} />
      ))}
    </tbody>
  );
}, sameRows);

export function AgentRows({ rows, onForce }: GroupProps) {
  const groups: Array<readonly RosterRow[]> = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_GROUP) groups.push(rows.slice(i, i + ROWS_PER_GROUP));
  // Keyed by position: a group is a slice of the rows shown, not a set of agents.
  return groups.map((group, i) => <RowGroup key={i} rows={group} onForce={onForce} />);
}
