'use client';
// The supervisor's live roster: a snapshot, then one change at a time, each a
// complete row for one agent (applied only when its version is newer). Rows
// are memoised by version and durations tick in their own small cells, so a
// change re-renders one row, not the table.
import { memo, useEffect, useMemo, useState } from 'react';
import type { RosterRow } from '@/db/queries/roster';
import { duration, REASON_LABEL, STATUS_LABEL } from '../lib/format';
import { onSocket, trpc } from '../lib/trpc';
import { signOut, useSessionUser } from '../lib/use-session-user';
import { useNow } from '../lib/use-now';

const ORDER = ['available', 'busy', 'away', 'offline'] as const;
type Status = (typeof ORDER)[number];
type SortKey = 'name' | 'status' | 'since';

function Ticking({ since }: { since: string | null }) {
  const now = useNow();
  if (!since) return <>—</>;
  return <>{duration(now - Date.parse(since))}</>;
}

const AgentRow = memo(function AgentRow({ row, onForce }: { row: RosterRow; onForce: (row: RosterRow, status: 'away' | 'offline') => void }) {
  const reason = REASON_LABEL[row.reason];
  return (
    <tr aria-label={row.name} data-status={row.status}>
      <th scope="row">{row.name}</th>
      <td>{row.teams.join(', ')}</td>
      <td>
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
      <td title={new Date(row.since).toLocaleString()}>
        <Ticking since={row.since} />
      </td>
      <td aria-label="Devices">{row.devices}</td>
      <td aria-label="Last seen" title={row.lastSeenAt ? new Date(row.lastSeenAt).toLocaleString() : ''}>
        {row.devices > 0 ? 'now' : <Ticking since={row.lastSeenAt} />}
      </td>
      <td>
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

export default function RosterPage() {
  const user = useSessionUser(['supervisor', 'admin']);
  const [rows, setRows] = useState<Map<string, RosterRow>>(new Map());
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string>();
  const [team, setTeam] = useState('');
  const [status, setStatus] = useState<Status | ''>('');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<SortKey>('name');

  useEffect(() => {
    if (!user) return;
    const offSocket = onSocket((open) => !open && setLive(false));
    const sub = trpc().roster.watch.subscribe(undefined, {
      onData: ({ data }) => {
        setLive(true);
        if (data.type === 'snapshot') {
          setRows(new Map(data.rows.map((r) => [r.agentId, r])));
          return;
        }
        setRows((current) => {
          const known = current.get(data.row.agentId);
          if (known && known.version >= data.row.version) return current;
          return new Map(current).set(data.row.agentId, data.row);
        });
      },
      onError: (err) => setError(err.message),
    });
    return () => {
      offSocket();
      sub.unsubscribe();
    };
  }, [user]);

  const all = useMemo(() => [...rows.values()], [rows]);
  const teams = useMemo(() => [...new Set(all.flatMap((r) => r.teams))].sort(), [all]);
  const counts = useMemo(() => {
    const byStatus: Record<Status, number> = { available: 0, busy: 0, away: 0, offline: 0 };
    const byTeam = new Map<string, number>();
    for (const r of all) {
      byStatus[r.status] += 1;
      if (r.status === 'available') for (const t of r.teams) byTeam.set(t, (byTeam.get(t) ?? 0) + 1);
    }
    return { byStatus, byTeam };
  }, [all]);
  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const list = all.filter(
      (r) =>
        (!team || r.teams.includes(team)) &&
        (!status || r.status === status) &&
        (!needle || r.name.toLowerCase().includes(needle)),
    );
    const by: Record<SortKey, (a: RosterRow, b: RosterRow) => number> = {
      name: (a, b) => a.name.localeCompare(b.name),
      status: (a, b) => ORDER.indexOf(a.status) - ORDER.indexOf(b.status) || a.name.localeCompare(b.name),
      since: (a, b) => Date.parse(a.since) - Date.parse(b.since),
    };
    return list.sort(by[sort]);
  }, [all, team, status, search, sort]);

  const force = useMemo(
    () => (row: RosterRow, to: 'away' | 'offline') => {
      const note = window.prompt(`Why set ${row.name} ${to}?`) ?? undefined;
      trpc()
        .presence.force.mutate({ agentId: row.agentId, status: to, note: note || undefined })
        .catch((err: Error) => setError(err.message));
    },
    [],
  );

  if (!user) return <main aria-busy="true" />;
  return (
    <main>
      <header className="bar">
        <h1>Roster</h1>
        <span className="live" data-state={live ? 'live' : 'reconnecting'} role="status" aria-label="Connection">
          {live ? 'Live' : 'Reconnecting…'}
        </span>
        <span className="muted">{user.name}</span>
        <button className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="counts" aria-label="Counts by status">
        {ORDER.map((s) => (
          <span key={s} className={`badge status-${s}`}>
            {STATUS_LABEL[s]}: {counts.byStatus[s]}
          </span>
        ))}
      </div>
      <div className="counts" aria-label="Available by team">
        {teams.map((t) => (
          <span key={t}>
            {t}: {counts.byTeam.get(t) ?? 0} available
          </span>
        ))}
      </div>
      <div className="counts">
        <label>
          Team
          <select value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="">All teams</option>
            {teams.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as Status | '')}>
            <option value="">Any status</option>
            {ORDER.map((s) => (
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
          </select>
        </label>
      </div>
      <table aria-label="Agents">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Team</th>
            <th scope="col">Status</th>
            <th scope="col">In status</th>
            <th scope="col">Devices</th>
            <th scope="col">Last seen</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <AgentRow key={r.agentId} row={r} onForce={force} />
          ))}
        </tbody>
      </table>
    </main>
  );
}
