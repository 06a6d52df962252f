'use client';
// The supervisor's live roster: a snapshot, then one change at a time, each a
// complete row for one agent (applied only when its version is newer).
import { useEffect, useMemo, useState } from 'react';
import type { RosterRow } from '@/db/queries/roster';
import { duration, REASON_LABEL, STATUS_LABEL } from '../lib/format';
import { onSocket, trpc } from '../lib/trpc';
import { signOut, useSessionUser } from '../lib/use-session-user';
import { useNow } from '../lib/use-now';

const ORDER = ['available', 'busy', 'away', 'offline'] as const;

export default function RosterPage() {
  const user = useSessionUser(['supervisor', 'admin']);
  const now = useNow();
  const [rows, setRows] = useState<Map<string, RosterRow>>(new Map());
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string>();

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

  const sorted = useMemo(() => [...rows.values()].sort((a, b) => a.name.localeCompare(b.name)), [rows]);
  const counts = useMemo(() => {
    const c = { available: 0, busy: 0, away: 0, offline: 0 };
    for (const r of rows.values()) c[r.status] += 1;
    return c;
  }, [rows]);

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
            {STATUS_LABEL[s]}: {counts[s]}
          </span>
        ))}
      </div>
      <table aria-label="Agents">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Team</th>
            <th scope="col">Status</th>
            <th scope="col">Since</th>
            <th scope="col">Devices</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={r.agentId} aria-label={r.name} data-status={r.status}>
              <th scope="row">{r.name}</th>
              <td>{r.teams.join(', ')}</td>
              <td>
                <span className={`badge status-${r.status}`} data-testid="status">
                  {STATUS_LABEL[r.status]}
                </span>
                {REASON_LABEL[r.reason] ? <span className="muted"> ({REASON_LABEL[r.reason]})</span> : null}
              </td>
              <td title={new Date(r.since).toLocaleString()}>{duration(now - Date.parse(r.since))}</td>
              <td aria-label="Devices">{r.devices}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
