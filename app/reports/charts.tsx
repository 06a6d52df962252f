'use client';
// The report's charts (Recharts, SVG): time in status per day, stacked; and
// customer wait per day, p50 and p90. Hours and seconds as the axes say.
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { DayReport } from '@/server/reports/report';
import { STATUS_LABEL } from '../lib/format';

const STATUS_COLOUR = { available: '#1a7f37', busy: '#bf8700', away: '#8250df', offline: '#8c959f' } as const;

const hours = (seconds: number) => Math.round((seconds / 3600) * 100) / 100;

export function StatusByDayChart({ days }: { days: DayReport[] }) {
  const data = days.map((d) => ({
    day: d.day,
    available: hours(d.seconds.available),
    busy: hours(d.seconds.busy),
    away: hours(d.seconds.away),
    offline: hours(d.seconds.offline),
  }));
  return (
    <figure aria-label="Time in status by day">
      <figcaption>Time in status by day (hours, all agents in view)</figcaption>
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={data}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="day" />
          <YAxis unit="h" />
          <Tooltip />
          <Legend />
          {(['available', 'busy', 'away', 'offline'] as const).map((status) => (
            <Bar key={status} dataKey={status} name={STATUS_LABEL[status]} stackId="status" fill={STATUS_COLOUR[status]} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function WaitByDayChart({ days }: { days: DayReport[] }) {
  const data = days.map((d) => ({ day: d.day, p50: d.wait.p50Seconds, p90: d.wait.p90Seconds }));
  return (
    <figure aria-label="Customer wait by day">
      <figcaption>Customer wait, created to accepted (seconds)</figcaption>
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={data}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="day" />
          <YAxis unit="s" />
          <Tooltip />
          <Legend />
          <Line dataKey="p50" name="p50" stroke="#0969da" connectNulls isAnimationActive={false} />
          <Line dataKey="p90" name="p90" stroke="#cf222e" connectNulls isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}
