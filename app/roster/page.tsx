'use client';
// The supervisor's live roster: a snapshot, then one change at a time, each a
// complete row for one agent (applied only when its version is newer), at most
// once per animation frame (use-roster.ts). Counts and name order are kept up
// to date change by change (roster-state.ts); rows are memoised in memoised
// groups (agent-rows.tsx), and durations tick in their own small cells, so a
// change re-renders one row, not the table. Above it, the queues of the
// supervisor's teams (queue-panel.tsx), live on their own.
import Link from 'next/link';
import { useCallback, useMemo, useState } from 'react';
import type { RosterRow } from '@/db/queries/roster';
import { STATUS_LABEL } from '../lib/format';
import { trpc } from '../lib/trpc';
import { signOut, useSessionUser } from '../lib/use-session-user';
import { AgentRows } from './agent-rows';
import { QueuePanel } from './queue-panel';
import { STATUS_ORDER, visibleRows, type SortKey, type Status } from './roster-state';
import styles from './roster.module.css';
import { useRoster } from './use-roster';

export default function RosterPage() {
  const user = useSessionUser(['supervisor', 'admin']);
  const { roster, live, error: watchError } = useRoster(Boolean(user));
  const [actionError, setActionError] = useState<string>();
  const [team, setTeam] = useState('');
  const [status, setStatus] = useState<Status | ''>('');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<SortKey>('name');

  const shown = useMemo(() => visibleRows(roster, { team, status, search, sort }), [roster, team, status, search, sort]);

  const force = useCallback((row: RosterRow, to: 'away' | 'offline') => {
    const note = window.prompt(`Why set ${row.name} ${to}?`) ?? undefined;
    trpc()
      .presence.force.mutate({ agentId: row.agentId, status: to, note: note || undefined })
      .catch((err: Error) => setActionError(err.message));
  }, []);

  if (!user) return <main aria-busy="true" />;
  const error = actionError ?? watchError;
  return (
    <main>
      <header className="bar">
        <h1>Roster</h1>
        <span className="live" data-state={live ? 'live' : 'reconnecting'} role="status" aria-label="Connection">
          {live ? 'Live' : 'Reconnecting…'}
        </span>
        <span className="muted">{user.name}</span>
        <Link href="/reports">Reports</Link>
        {user.role === 'admin' && <Link href="/admin/users">Admin</Link>}
        <button className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <QueuePanel />
      <h2 id="agents">Agents</h2>
      <div className="counts" aria-label="Counts by status">
        {STATUS_ORDER.map((s) => (
          <span key={s} className={`badge status-${s}`}>
            {STATUS_LABEL[s]}: {roster.byStatus[s]}
          </span>
        ))}
      </div>
      <div className="counts" aria-label="Available by team">
        {roster.teams.map((t) => (
          <span key={t}>
            {t}: {roster.availableByTeam.get(t) ?? 0} available
          </span>
        ))}
      </div>
      <div className="counts">
        <label>
          Team
          <select value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="">All teams</option>
            {roster.teams.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as Status | '')}>
            <option value="">Any status</option>
            {STATUS_ORDER.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABEL[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Name" />
        </label>
        <label>
          Sort by
          <select value={sort} onChange={(e) => setSort(e.target.value as SortKey)}>
            <option value="name">Name</option>
            <option value="status">Status</option>
            <option value="since">Longest in status</option>
            <option value="load">Most load</option>
          </select>
        </label>
      </div>
      <table aria-label="Agents" role="table" className={styles.table}>
        <thead role="rowgroup">
          <tr role="row">
            <th role="columnheader" scope="col">Name</th>
            <th role="columnheader" scope="col">Team</th>
            <th role="columnheader" scope="col">Status</th>
            <th role="columnheader" scope="col">In status</th>
            <th role="columnheader" scope="col">Load</th>
            <th role="columnheader" scope="col">Devices</th>
            <th role="columnheader" scope="col">Last seen</th>
            <th role="columnheader" scope="col">Actions</th>
          </tr>
        </thead>
        <AgentRows rows={shown} onForce={force} />
      </table>
    </main>
  );
}
