'use client';
// An agent's device count on the roster, as a button that opens the list of
// their live devices (label, active or idle, last seen). The list is fetched
// when it opens, again whenever the agent's row changes (a device came or
// went), and every DEVICE_LIST_REFRESH_MS while open, because a device's
// activity and last-seen time move without the row changing. Closed, the cell
// holds nothing but the count.
import { useEffect, useId, useRef, useState } from 'react';
import type { DeviceRow, RosterRow } from '@/db/queries/roster';
import { trpc } from '../lib/trpc';
import styles from './roster.module.css';
import { useElapsed } from '../lib/use-now';

/** About one heartbeat interval: how stale an open list's "last seen" may get. */
const DEVICE_LIST_REFRESH_MS = 15_000;

function LastSeen({ at }: { at: string }) {
  return <>{useElapsed(at)}</>;
}

function DeviceList({ id, row }: { id: string; row: RosterRow }) {
  const { agentId, version, name } = row;
  const [devices, setDevices] = useState<DeviceRow[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    // Only the answer to the latest request counts; an earlier one may land later.
    let current = true;
    const load = () =>
      trpc()
        .roster.devices.query({ agentId })
        .then(
          (list) => {
            if (!current) return;
            setDevices(list);
            setError(undefined);
          },
          (err: Error) => current && setError(err.message),
        );
    void load();
    const timer = setInterval(() => void load(), DEVICE_LIST_REFRESH_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [agentId, version]);

  return (
    <div id={id} className={styles.panel}>
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : !devices ? (
        <p className="muted">Loading…</p>
      ) : devices.length === 0 ? (
        <p className="muted">No device connected.</p>
      ) : (
        <ul className="devices" aria-label={`Devices of ${name}`}>
          {devices.map((d) => (
            <li key={d.sessionId} title={`Connected ${new Date(d.connectedAt).toLocaleString()}`}>
              <strong>{d.label}</strong>{' '}
              <span className="muted">
                {d.activity}, last seen <LastSeen at={d.lastSeenAt} /> ago
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function DevicesCell({ row, open, onOpen }: { row: RosterRow; open: boolean; onOpen: (open: boolean) => void }) {
  const listId = useId();
  const button = useRef<HTMLButtonElement>(null);
  return (
    <td
      role="cell"
      aria-label="Devices"
      className={styles.devices}
      onKeyDown={(e) => {
        if (open && e.key === 'Escape') {
          onOpen(false);
          button.current?.focus();
        }
      }}
    >
      <button
        ref={button}
        type="button"
        className={`secondary ${styles.count}`}
        aria-expanded={open}
        aria-controls={open ? listId : undefined}
        aria-label={`Devices of ${row.name}: ${row.devices}`}
        onClick={() => onOpen(!open)}
      >
        {row.devices}
      </button>
      {open && <DeviceList id={listId} row={row} />}
    </td>
  );
}
