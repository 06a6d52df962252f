// Display helpers shared by the pages.

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
