'use client';
// The agent console: this tab is one device session for as long as it is open.
// Shows the agent's computed status (and why), a status switcher, the choice to
// hide their last-seen time from teammates, this and the other devices, signing
// out this device or every device, their work (offers and tickets), and the team.
import { useEffect, useState } from 'react';
import type { DeviceRow, RosterRow } from '@/db/queries/roster';
import { startDeviceSession, type DeviceSessionState } from '../lib/device-session';
import { duration, REASON_LABEL, STATUS_LABEL } from '../lib/format';
import { onSocket, trpc } from '../lib/trpc';
import { signOut, useSessionUser } from '../lib/use-session-user';
import { useNow } from '../lib/use-now';
import { TeamCard } from './team';
import { WorkCard } from './work';

type Status = RosterRow['status'];

export default function AgentPage() {
  const user = useSessionUser(['agent']);
  const now = useNow();
  const [connected, setConnected] = useState(false);
  const [device, setDevice] = useState<DeviceSessionState>({ activity: 'active' });
  const [attempt, setAttempt] = useState(0);
  const [self, setSelf] = useState<{ row: RosterRow; devices: DeviceRow[] }>();
  const [error, setError] = useState<string>();
  // The choice just made, shown until the agent's row moves past the version it was made on.
  const [hideChoice, setHideChoice] = useState<{ value: boolean; version: number }>();

  useEffect(() => {
    if (!user) return;
    const offSocket = onSocket(setConnected);
    const stopSession = startDeviceSession((state) => {
      setDevice(state);
      if (state.sessionId) setConnected(true);
    });
    const watch = trpc().presence.watchSelf.subscribe(undefined, {
      onData: ({ data }) => setSelf({ row: data.row, devices: data.devices }),
      onError: (err) => setError(err.message),
    });
    return () => {
      offSocket();
      stopSession();
      watch.unsubscribe();
    };
  }, [user, attempt]);

  async function act(action: () => Promise<unknown>) {
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'That did not work');
    }
  }

  if (!user) return <main aria-busy="true" />;
  const row = self?.row;
  const hideLastSeen = hideChoice && row?.version === hideChoice.version ? hideChoice.value : (row?.hideLastSeen ?? false);
  const reason = row ? REASON_LABEL[row.reason] : '';
  const client = trpc();

  return (
    <main>
      <header className="bar">
        <h1>{user.name}</h1>
        <span className="live" data-state={connected ? 'live' : 'reconnecting'} role="status" aria-label="Connection">
          {connected ? 'Connected' : 'Reconnecting…'}
        </span>
        <button className="secondary" onClick={() => void act(() => signOut())}>
          Sign out
        </button>
        <button className="secondary" onClick={() => void act(() => signOut({ everywhere: true }))}>
          Sign out everywhere
        </button>
      </header>

      {device.ended && (
        <div role="alert" className="card error">
          A supervisor set you offline{row?.forcedBy ? ` (${row.forcedBy})` : ''}
          {row?.note ? `: ${row.note}` : ''}. This tab is no longer connected.{' '}
          <button onClick={() => setAttempt((n) => n + 1)}>Reconnect</button>
        </div>
      )}

      <section className="card" aria-labelledby="my-status">
        <h2 id="my-status">My status</h2>
        {row ? (
          <p>
            <span className={`badge status-${row.status}`} aria-label="Current status">
              {STATUS_LABEL[row.status]}
            </span>{' '}
            {reason && (
              <span className="muted" aria-label="Why">
                ({row.reason === 'forced' && row.forcedBy ? `set by ${row.forcedBy}` : reason}
                {row.reason === 'forced' && row.note ? `: ${row.note}` : ''})
              </span>
            )}{' '}
            <span className="muted">for {duration(now - Date.parse(row.since))}</span>
          </p>
        ) : (
          <p className="muted">Connecting…</p>
        )}
        <label>
          Set status
          <select
            value={row && row.reason !== 'idle' && row.reason !== 'disconnected' ? row.status : 'available'}
            onChange={(e) => void act(() => client.presence.setStatus.mutate({ status: e.target.value as Status }))}
            // While the socket is down, a change would open a socket of its own outside the reconnect backoff.
            disabled={!row || !connected}
          >
            <option value="available">Available</option>
            <option value="busy">Busy</option>
            <option value="away">Away</option>
            <option value="offline">Offline (signed out of routing)</option>
          </select>
        </label>
        <p className="muted" aria-label="This device">
          This device is {device.activity}.
        </p>
        <label className="muted" style={{ display: 'flex', gap: 6, alignItems: 'center' }}>
          <input
            type="checkbox"
            checked={hideLastSeen}
            disabled={!row}
            onChange={(e) => {
              const value = e.target.checked;
              if (row) setHideChoice({ value, version: row.version });
              void act(() => client.presence.setPrivacy.mutate({ hideLastSeen: value }).catch((err: unknown) => {
                setHideChoice(undefined);
                throw err;
              }));
            }}
          />{' '}
          Hide my last-seen time from teammates (they see the day only)
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </section>

      <WorkCard />

      <section className="card" aria-labelledby="my-devices" style={{ marginTop: 16 }}>
        <h2 id="my-devices">My devices</h2>
        <ul className="devices" aria-label="My devices">
          {self?.devices.map((d) => (
            <li key={d.sessionId} aria-label={`${d.label}${d.sessionId === device.sessionId ? ' (this tab)' : ''}`}>
              <strong>{d.label}</strong>
              {d.sessionId === device.sessionId ? ' (this tab)' : ''}{' '}
              <span className="muted">
                {d.activity}, connected {duration(now - Date.parse(d.connectedAt))} ago, last seen{' '}
                {duration(Math.max(0, now - Date.parse(d.lastSeenAt)))} ago
              </span>{' '}
              {d.sessionId !== device.sessionId && (
                <button
                  className="secondary"
                  onClick={() => void act(() => client.presence.signOutDevice.mutate({ sessionId: d.sessionId }))}
                >
                  Sign out this device
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>

      <TeamCard selfId={user.id} />
    </main>
  );
}
