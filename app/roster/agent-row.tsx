'use client';
// One agent's row on the roster. Memoised on the row object, which is
// replaced only when the agent changes, so a change re-renders its own row;
// the time cells tick on their own (useElapsed). Roles are spelled out because
// the table is laid out as a grid (roster.module.css), and a table whose
// display is changed loses its table semantics in some browsers.
import { memo, useState } from 'react';
import type { RosterRow } from '@/db/queries/roster';
import { loadText, REASON_LABEL, STATUS_LABEL } from '../lib/format';
import { DevicesCell } from './devices-cell';
import styles from './roster.module.css';
import { useElapsed } from '../lib/use-now';

export type ForceStatus = (row: RosterRow, status: 'away' | 'offline') => void;

function Elapsed({ since }: { since: string | null }) {
  return <>{useElapsed(since)}</>;
}

export const AgentRow = memo(function AgentRow({ row, onForce }: { row: RosterRow; onForce: ForceStatus }) {
  // An open devices list overlaps the rows below: the row is marked so that
  // its group is drawn above them, and not clipped (roster.module.css).
  const [devicesOpen, setDevicesOpen] = useState(false);
  const reason = REASON_LABEL[row.reason];
  return (
    <tr role="row" aria-label={row.name} data-status={row.status} className={devicesOpen ? styles.raised : undefined}>
      <th role="rowheader" scope="row">
        {row.name}
      </th>
      <td role="cell">{row.teams.join(', ')}</td>
      <td role="cell">
        <span className={`badge status-${row.status}`} data-testid="status">
          {STATUS_LABEL[row.status]}
        </span>
        {reason ? (
          <span className="muted" data-testid="reason">
            {' '}
            ({reason}
            {row.reason === 'forced' && row.note ? `: ${row.note}` : ''})
          </span>
        ) : null}
      </td>
      <td role="cell" title={new Date(row.since).toLocaleString()}>
        <Elapsed since={row.since} />
      </td>
      <td role="cell" aria-label="Load">
        {loadText(row.load)}
      </td>
      <DevicesCell row={row} open={devicesOpen} onOpen={setDevicesOpen} />
      <td role="cell" aria-label="Last seen" title={row.lastSeenAt ? new Date(row.lastSeenAt).toLocaleString() : ''}>
        {row.devices > 0 ? 'now' : <Elapsed since={row.lastSeenAt} />}
      </td>
      <td role="cell">
        {row.status !== 'offline' && (
          <>
            <button className="secondary" onClick={() => onForce(row, 'away')} aria-label={`Set ${row.name} away`}>
              Away
            </button>{' '}
            <button className="secondary" onClick={() => onForce(row, 'offline')} aria-label={`Set ${row.name} offline`}>
              Offline
            </button>
          </>
        )}
      </td>
    </tr>
  );
});
