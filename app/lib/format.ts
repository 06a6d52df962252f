// Display helpers shared by the pages.
import type { Channel } from '@/db/schema';

export const STATUS_LABEL = {
  available: 'Available',
  busy: 'Busy',
  away: 'Away',
  offline: 'Offline',
} as const;

export const REASON_LABEL: Record<string, string> = {
  manual: '',
  idle: 'idle',
  disconnected: 'no device',
  forced: 'set by a supervisor',
  missed_offers: 'missed offers',
};

/** "45s", "12m", "3h 05m", "2d 4h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Channels in the order a load is spelled out; every channel, so a new one is not left out silently. */
const CHANNEL_ORDER = Object.keys({ chat: 0, email: 0, phone: 0, task: 0 } satisfies Record<Channel, 0>) as Channel[];

/** An agent's open tickets per channel: "chat 2 · email 1", or "—" when none. */
export function loadText(load: Partial<Record<Channel, number>>): string {
  const parts = CHANNEL_ORDER.filter((c) => (load[c] ?? 0) > 0).map((c) => `${c} ${load[c]}`);
  return parts.length ? parts.join(' · ') : '—';
}

/** A short duration with tenths under ten seconds ("0.8s", "4.2s"), else as `duration`; "—" for none. */
export function briefDuration(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 10_000 ? `${(Math.max(0, ms) / 1000).toFixed(1)}s` : duration(ms);
}
