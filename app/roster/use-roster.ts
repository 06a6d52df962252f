'use client';
// The live roster: roster.watch's snapshot, then its changes, applied at most
// once per animation frame. Changes that arrive between two frames are kept
// newest-per-agent and applied together, so a burst (a node lost, a sweep)
// costs one render, and a hidden tab, which gets no frames, renders nothing
// until it is shown again.
import { useEffect, useState } from 'react';
import type { RosterRow } from '@/db/queries/roster';
import { onSocket, trpc } from '../lib/trpc';
import { applyChanges, emptyRoster, rosterFrom, type RosterState } from './roster-state';

export function useRoster(enabled: boolean): { roster: RosterState; live: boolean; error: string | undefined } {
  const [roster, setRoster] = useState<RosterState>(emptyRoster);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!enabled) return;
    let pending = new Map<string, RosterRow>();
    let frame: number | undefined;
    const flush = () => {
      frame = undefined;
      const batch = pending;
      pending = new Map();
      setRoster((current) => applyChanges(current, batch.values()));
    };
    // Told to React only when it changes, not with every change that arrives.
    let isLive = false;
    const showLive = (value: boolean) => {
      if (isLive !== value) setLive((isLive = value));
    };
    const offSocket = onSocket((open) => !open && showLive(false));
    const sub = trpc().roster.watch.subscribe(undefined, {
      // Started again after a reconnect, the view resumes after its last event and sends
      // nothing if nothing changed meanwhile: the server's start, not data, says it is live.
      onStarted: () => showLive(true),
      onData: ({ data }) => {
        showLive(true);
        // A snapshot replaces everything at once; changes still pending are
        // newer or older by version and are applied over it, or not, by version.
        if (data.type === 'snapshot') return setRoster(rosterFrom(data.rows));
        for (const { row } of data.changes) {
          const queued = pending.get(row.agentId);
          if (!queued || queued.version < row.version) pending.set(row.agentId, row);
        }
        frame ??= requestAnimationFrame(flush);
      },
      onError: (err) => setError(err.message),
    });
    return () => {
      if (frame !== undefined) cancelAnimationFrame(frame);
      offSocket();
      sub.unsubscribe();
    };
  }, [enabled]);

  return { roster, live, error };
}
