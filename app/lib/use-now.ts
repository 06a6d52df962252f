'use client';
import { useSyncExternalStore } from 'react';

// One shared one-second ticker for every ticking duration on a page, so a
// roster of thousands re-renders only its small time cells each second.
const listeners = new Set<() => void>();
let now = Date.now();
let timer: ReturnType<typeof setInterval> | undefined;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  timer ??= setInterval(() => {
    now = Date.now();
    listeners.forEach((l) => l());
  }, 1_000);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** The current time, refreshed every second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now, () => now);
}
