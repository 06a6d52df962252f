// Reports as CSV (RFC 4180, CRLF lines), for the /reports page's downloads: the
// same figures as reports.*, one line per agent, team or day and a total line.
// Seconds and counts are plain numbers, occupancy a percentage; a cell that a
// spreadsheet would take for a formula (= + - @ at its start) is quoted with
// a leading apostrophe, so a name cannot run as one.
import type { AgentReport, DayReport, Figures, TeamReport } from './report';

type Reports = {
  agents: { agents: AgentReport[]; total: Figures };
  teams: { teams: TeamReport[]; total: Figures };
  daily: { days: DayReport[]; total: Figures };
};
export type ReportKind = keyof Reports;

const FIGURE_COLUMNS = [
  'available_s', 'busy_s', 'away_s', 'offline_s', 'staffed_s', 'working_s', 'occupancy_pct',
  'offered', 'accepted', 'declined', 'missed', 'handled', 'wait_tickets', 'wait_p50_s', 'wait_p90_s',
] as const;

function figureCells(f: Figures): (string | number | null)[] {
  return [
    f.seconds.available, f.seconds.busy, f.seconds.away, f.seconds.offline, f.staffedSeconds, f.workingSeconds,
    f.occupancy === null ? null : Math.round(f.occupancy * 10_000) / 100,
    f.offers.offered, f.offers.accepted, f.offers.declined, f.offers.missed, f.handled,
    f.wait.tickets, f.wait.p50Seconds, f.wait.p90Seconds,
  ];
}

function cell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const line = (cells: (string | number | null)[]) => `${cells.map(cell).join(',')}\r\n`;

export function reportCsv<K extends ReportKind>(kind: K, report: Reports[K]): string {
  let head: string[];
  let rows: (string | number | null)[][];
  if (kind === 'agents') {
    const r = report as Reports['agents'];
    head = ['agent_id', 'name', 'email', 'teams'];
    rows = r.agents.map((a) => [a.agentId, a.name, a.email, a.teams.join('; '), ...figureCells(a)]);
  } else if (kind === 'teams') {
    const r = report as Reports['teams'];
    head = ['team_id', 'name', 'agents'];
    rows = r.teams.map((t) => [t.teamId, t.name, t.agents, ...figureCells(t)]);
  } else {
    const r = report as Reports['daily'];
    head = ['day'];
    rows = r.days.map((d) => [d.day, ...figureCells(d)]);
  }
  const total = ['total', ...head.slice(1).map(() => null), ...figureCells(report.total)];
  return [line([...head, ...FIGURE_COLUMNS]), ...rows.map(line), line(total)].join('');
}
