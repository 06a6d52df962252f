'use client';
// "My team": each teammate's status and since when, live, and when an absent
// teammate was last seen — exact, or the day only when they hide it. An agent
// sees no more of a teammate than this (server/roster/visibility.ts decides).
import { memo, useEffect, useState } from 'react';
import type { TeammateRow } from '@/server/roster/visibility';
import { duration, STATUS_LABEL } from '../lib/format';
import { trpc } from '../lib/trpc';
import { useNow } from '../lib/use-now';

export function TeamCard({ selfId }: { selfId: string }) {
  const [rows, setRows] = useState<ReadonlyMap<string, TeammateRow>>(new Map());

  useEffect(() => {
    const sub = trpc().team.watch.subscribe(undefined, {
      onData: ({ data }) => {
        if (data.type === 'snapshot') setRows(new Map(data.rows.map((r) => [r.agentId, r])));
        else
          setRows((prev) => {
            const next = new Map(prev);
            for (const { row } of data.changes) next.set(row.agentId, row);
            return next;
          });
      },
    });
    return () => sub.unsubscribe();
  }, []);

  const teammates = [...rows.values()].filter((r) => r.agentId !== selfId).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section className="card" aria-labelledby="my-team" style={{ marginTop: 16 }}>
      <h2 id="my-team">My team</h2>
      {teammates.length === 0 ? (
        <p className="muted">No teammates yet.</p>
      ) : (
        <ul className="devices" aria-label="My team">
          {teammates.map((row) => (
            <Teammate key={row.agentId} row={row} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** A `YYYY-MM-DD` day (UTC, as the server gives it) in words: "today", "yesterday", "on 3 Dec". */
function dayText(day: string, now: number): string {
  const today = new Date(now).toISOString().slice(0, 10);
  if (day === today) return 'today';
  if (day === new Date(now - 86_400_000).toISOString().slice(0, 10)) return 'yesterday';
  return `on ${new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' })}`;
}

/** "12m ago", or only the day ("today") when the teammate hides their last-seen time. */
function lastSeenText(row: TeammateRow, now: number): string | undefined {
  if (row.lastSeenAt) return `${duration(Math.max(0, now - Date.parse(row.lastSeenAt)))} ago`;
  return row.lastSeenDay ? dayText(row.lastSeenDay, now) : undefined;
}

const Teammate = memo(function Teammate({ row }: { row: TeammateRow }) {
  const now = useNow();
  // Shown for teammates who are not at their desk: for the others it is "now".
  const lastSeen = row.status === 'offline' || row.status === 'away' ? lastSeenText(row, now) : undefined;
  return (
    <li aria-label={row.name}>
      <strong>{row.name}</strong>{' '}
      <span className={`badge status-${row.status}`} aria-label={`${row.name} status`}>
        {STATUS_LABEL[row.status]}
      </span>{' '}
      <span className="muted">
        {row.since ? `for ${duration(Math.max(0, now - Date.parse(row.since)))}` : `since ${dayText(row.sinceDay, now)}`}
      </span>
      {lastSeen && (
        <>
          {' · '}
          <span className="muted" aria-label={`${row.name} last seen`}>
            last seen {lastSeen}
          </span>
        </>
      )}
    </li>
  );
});
