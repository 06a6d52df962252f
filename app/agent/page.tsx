'use client';
// The agent console: this tab is one device session for as long as it is open.
// Shows the agent's computed status (and why), a status switcher, and devices.
import { useEffect, useState } from 'react';
import type { DeviceRow, RosterRow } from '@/db/queries/roster';
import { duration, REASON_LABEL, STATUS_LABEL } from '../lib/format';
import { deviceId, onSocket, tabSessionId, trpc } from '../lib/trpc';
import { signOut, useSessionUser } from '../lib/use-session-user';
import { useNow } from '../lib/use-now';

type Status = RosterRow['status'];

export default function AgentPage() {
  const user = useSessionUser(['agent']);
  const now = useNow();
  const [connected, setConnected] = useState(false);
  const [sessionId, setSessionId] = useState<string>();
  const [self, setSelf] = useState<{ row: RosterRow; devices: DeviceRow[] }>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!user) return;
    const client = trpc();
    const offSocket = onSocket(setConnected);
    const session = client.presence.session.subscribe(
      { deviceId: deviceId(), sessionId: tabSessionId() },
      {
        onData: (event) => {
          setSessionId(event.sessionId);
          setConnected(true);
        },
        onError: (err) => setError(err.message),
      },
    );
    const watch = client.presence.watchSelf.subscribe(undefined, {
      onData: ({ data }) => setSelf({ row: data.row, devices: data.devices }),
      onError: (err) => setError(err.message),
    });
    return () => {
      offSocket();
      session.unsubscribe();
      watch.unsubscribe();
    };
  }, [user]);

  async function choose(status: Status) {
    setError(undefined);
    try {
      await trpc().presence.setStatus.mutate({ status });
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Could not change status');
    }
  }

  if (!user) return <main aria-busy="true" />;
  const row = self?.row;
  const reason = row ? REASON_LABEL[row.reason] : '';

  return (
    <main>
      <header className="bar">
        <h1>{user.name}</h1>
        <span className="live" data-state={connected ? 'live' : 'reconnecting'} role="status" aria-label="Connection">
          {connected ? 'Connected' : 'Reconnecting…'}
        </span>
        <button className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>

      <section className="card" aria-labelledby="my-status">
        <h2 id="my-status">My status</h2>
        {row ? (
          <p>
            <span className={`badge status-${row.status}`} aria-label="Current status">
              {STATUS_LABEL[row.status]}
            </span>{' '}
            {reason && <span className="muted">({reason})</span>}{' '}
            <span className="muted">for {duration(now - Date.parse(row.since))}</span>
          </p>
        ) : (
          <p className="muted">Connecting…</p>
        )}
        <label>
          Set status
          <select
            value={row && (row.reason === 'manual' || row.reason === 'forced') ? row.status : 'available'}
            onChange={(e) => void choose(e.target.value as Status)}
            disabled={!row}
          >
            <option value="available">Available</option>
            <option value="busy">Busy</option>
            <option value="away">Away</option>
            <option value="offline">Offline (signed out of routing)</option>
          </select>
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="my-devices" style={{ marginTop: 16 }}>
        <h2 id="my-devices">My devices</h2>
        <ul className="devices" aria-label="My devices">
          {self?.devices.map((d) => (
            <li key={d.sessionId}>
              {d.label}
              {d.sessionId === sessionId ? ' (this tab)' : ''}{' '}
              <span className="muted">connected {duration(now - Date.parse(d.connectedAt))} ago</span>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
