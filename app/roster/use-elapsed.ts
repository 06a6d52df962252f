'use client';
// Time elapsed since a moment, as the text the roster shows ("45s", "3h 05m"),
// from one shared one-second clock. Unlike useNow (app/lib/use-now.ts), which
// re-renders every subscriber every second, a cell here re-renders only when
// its text changes: each tick costs every cell one string, and a render only
// for those still counting seconds or crossing a minute — with thousands of
// rows, the difference between a few renders a second and thousands.
import { useSyncExternalStore } from 'react';
import { duration } from '../lib/format';

const listeners = new Set<() => void>();
let now = Date.now();
let timer: ReturnType<typeof setInterval> | undefined;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      listeners.forEach((l) => l());
    }, 1_000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** "—" without a moment; else the time since it, ticking. */
export function useElapsed(since: string | null): string {
  const from = since === null ? Number.NaN : Date.parse(since);
  const text = () => (Number.isNaN(from) ? '—' : duration(now - from));
  return useSyncExternalStore(subscribe, text, text);
}
