// The /reports page's ranges: whole days of the browser's time zone, from a
// first day to a last day (both included), as the ISO times reports.* takes.

/** `YYYY-MM-DD` of a local date. */
export function localDay(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Local midnight starting `day` (`YYYY-MM-DD`), `offset` days later. */
function midnight(day: string, offset = 0): Date {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d + offset);
}

export type DayRange = { first: string; last: string };

export const PRESETS = {
  today: 'Today',
  yesterday: 'Yesterday',
  week: 'Last 7 days',
  month: 'Last 30 days',
} as const;
export type Preset = keyof typeof PRESETS;

export function presetRange(preset: Preset, now = new Date()): DayRange {
  const today = localDay(now);
  const back = (days: number) => localDay(midnight(today, -days));
  switch (preset) {
    case 'today':
      return { first: today, last: today };
    case 'yesterday':
      return { first: back(1), last: back(1) };
    case 'week':
      return { first: back(6), last: today };
    case 'month':
      return { first: back(29), last: today };
  }
}

/** The report input for a day range: from the first day's midnight to the midnight after the last. */
export function rangeInput(range: DayRange): { from: string; to: string; timeZone: string } {
  return {
    from: midnight(range.first).toISOString(),
    to: midnight(range.last, 1).toISOString(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}
