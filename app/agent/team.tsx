'use client';
// "My team": each teammate's status and since when, live. An agent sees no
// more of a teammate than this (server/roster/visibility.ts decides).
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

const Teammate = memo(function Teammate({ row }: { row: TeammateRow }) {
  const now = useNow();
  return (
    <li aria-label={row.name}>
      <strong>{row.name}</strong>{' '}
      <span className={`badge status-${row.status}`} aria-label={`${row.name} status`}>
        {STATUS_LABEL[row.status]}
      </span>{' '}
      <span className="muted">for {duration(Math.max(0, now - Date.parse(row.since)))}</span>
    </li>
  );
});
