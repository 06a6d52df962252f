'use client';
import { useSyncExternalStore } from 'react';
import { duration } from './format';

// One shared one-second clock for every ticking time on a page.
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

/** The current time, refreshed every second: the caller re-renders every second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now, () => now);
}

/**
 * "—" without a moment; else the time since it ("45s", "3h 05m"), ticking.
 * Unlike useNow, the caller re-renders only when the text changes — with
 * thousands of roster rows, a few renders a second instead of thousands.
 */
export function useElapsed(since: string | null): string {
  const from = since === null ? Number.NaN : Date.parse(since);
  const text = () => (Number.isNaN(from) ? '—' : duration(now - from));
  return useSyncExternalStore(subscribe, text, text);
}
