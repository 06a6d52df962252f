'use client';
// Reports for supervisors and admins: per agent, per team and per day over a
// range of whole days in the browser's time zone — time in each status,
// occupancy, offers and their outcomes, tickets handled, customer wait — with
// charts and CSV downloads of exactly the figures shown (server/reports/csv.ts).
// The figures and their definitions are reports.*'s (docs/reports.md).
import Link from 'next/link';
import { useEffect, useState } from 'react';
import type { Figures, Overview } from '@/server/reports/report';
import { reportCsv, type ReportKind } from '@/server/reports/csv';
import { duration } from '../lib/format';
import { trpc } from '../lib/trpc';
import { signOut, useSessionUser } from '../lib/use-session-user';
import { StatusByDayChart, WaitByDayChart } from './charts';
import { PRESETS, presetRange, rangeInput, type DayRange, type Preset } from './range';
import styles from './reports.module.css';

const hoursText = (seconds: number) => duration(seconds * 1000);
const percent = (share: number | null) => (share === null ? '—' : `${(share * 100).toFixed(1)}%`);
const waitText = (seconds: number | null) => (seconds === null ? '—' : duration(seconds * 1000));

function download(kind: ReportKind, loaded: Overview, days: DayRange) {
  const blob = new Blob([reportCsv(kind, loaded)], { type: 'text/csv;charset=utf-8' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `switchboard-${kind}-${days.first}-to-${days.last}.csv`;
  link.click();
  URL.revokeObjectURL(link.href);
}

export default function ReportsPage() {
  const user = useSessionUser(['supervisor', 'admin']);
  const [days, setDays] = useState<DayRange>(() => presetRange('today'));
  const [teamId, setTeamId] = useState('');
  const [teams, setTeams] = useState<{ id: string; name: string }[]>([]);
  const [loaded, setLoaded] = useState<Overview>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    if (!user) return;
    let current = true;
    const input = { ...rangeInput(days), teamId: teamId || undefined };
    setLoading(true);
    setError(undefined);
    trpc()
      .reports.overview.query(input)
      .then((report) => {
        if (!current) return;
        setLoaded(report);
        // The team choice lists every team in view, whichever one is chosen.
        if (!teamId) setTeams(report.teams.map((t) => ({ id: t.teamId, name: t.name })));
      })
      .catch((err: Error) => current && setError(err.message))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [user, days, teamId]);

  if (!user) return <main aria-busy="true" />;
  const total = loaded?.total;
  return (
    <main>
      <header className="bar">
        <h1>Reports</h1>
        <Link href="/roster">Roster</Link>
        <span className="muted">{user.name}</span>
        <button className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <form className={styles.controls} aria-label="Report range" onSubmit={(e) => e.preventDefault()}>
        {(Object.keys(PRESETS) as Preset[]).map((preset) => (
          <button key={preset} type="button" className="secondary" onClick={() => setDays(presetRange(preset))}>
            {PRESETS[preset]}
          </button>
        ))}
        <label>
          From
          <input type="date" value={days.first} max={days.last} onChange={(e) => e.target.value && setDays({ ...days, first: e.target.value })} />
        </label>
        <label>
          To
          <input type="date" value={days.last} min={days.first} onChange={(e) => e.target.value && setDays({ ...days, last: e.target.value })} />
        </label>
        <label>
          Team
          <select value={teamId} onChange={(e) => setTeamId(e.target.value)}>
            <option value="">All teams</option>
            {teams.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" role="status" aria-label="Report state">
          {loading ? 'Loading…' : loaded ? `${loaded.range.timeZone}, up to ${new Date(loaded.range.to).toLocaleString()}` : ''}
        </span>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {loaded && total && (
        <>
          <section className={styles.tiles} aria-label="Totals">
            <Tile label="Staffed" value={hoursText(total.staffedSeconds)} />
            <Tile label="Occupancy" value={percent(total.occupancy)} />
            <Tile label="Offers accepted" value={`${total.offers.accepted} of ${total.offers.offered}`} />
            <Tile label="Declined / missed" value={`${total.offers.declined} / ${total.offers.missed}`} />
            <Tile label="Tickets handled" value={String(total.handled)} />
            <Tile label="Customer wait p50 / p90" value={`${waitText(total.wait.p50Seconds)} / ${waitText(total.wait.p90Seconds)}`} />
          </section>
          <div className={styles.charts}>
            <StatusByDayChart days={loaded.days} />
            <WaitByDayChart days={loaded.days} />
          </div>
          <h2>
            Agents <DownloadButton kind="agents" loaded={loaded} days={days} />
          </h2>
          <FiguresTable
            label="Agents"
            head={['Agent', 'Teams']}
            rows={loaded.agents.map((a) => ({ key: a.agentId, cells: [a.name, a.teams.join(', ') || '—'], figures: a }))}
            total={loaded.total}
          />
          <h2>
            Teams <DownloadButton kind="teams" loaded={loaded} days={days} />
          </h2>
          <FiguresTable
            label="Teams"
            head={['Team', 'Agents']}
            rows={loaded.teams.map((t) => ({ key: t.teamId, cells: [t.name, String(t.agents)], figures: t }))}
            total={loaded.total}
          />
          <h2>
            Days <DownloadButton kind="daily" loaded={loaded} days={days} />
          </h2>
          <FiguresTable
            label="Days"
            head={['Day']}
            rows={loaded.days.map((d) => ({ key: d.day, cells: [d.day], figures: d }))}
            total={loaded.total}
          />
          <p className="muted">
            Staffed is available + busy. Occupancy is the time spent holding at least one accepted ticket while staffed, over
            staffed time. Missed offers expired unanswered. Customer wait runs from a ticket&apos;s creation to its first
            acceptance, for tickets first accepted in the range.
          </p>
        </>
      )}
    </main>
  );
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div className={styles.tile} role="group" aria-label={label}>
      <span className="muted">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

function DownloadButton({ kind, loaded, days }: { kind: ReportKind; loaded: Overview; days: DayRange }) {
  return (
    <button type="button" className="secondary" onClick={() => download(kind, loaded, days)}>
      Download {kind} CSV
    </button>
  );
}

const FIGURE_HEAD = ['Available', 'Busy', 'Away', 'Offline', 'Occupancy', 'Offered', 'Accepted', 'Declined', 'Missed', 'Handled', 'Wait p50', 'Wait p90'];

function figureCells(f: Figures): string[] {
  return [
    hoursText(f.seconds.available),
    hoursText(f.seconds.busy),
    hoursText(f.seconds.away),
    hoursText(f.seconds.offline),
    percent(f.occupancy),
    String(f.offers.offered),
    String(f.offers.accepted),
    String(f.offers.declined),
    String(f.offers.missed),
    String(f.handled),
    waitText(f.wait.p50Seconds),
    waitText(f.wait.p90Seconds),
  ];
}

function FiguresTable(props: { label: string; head: string[]; rows: { key: string; cells: string[]; figures: Figures }[]; total: Figures }) {
  const head = [...props.head, ...FIGURE_HEAD];
  const row = (key: string, cells: string[], header: boolean) => (
    <tr key={key} aria-label={cells[0]}>
      {cells.map((cell, i) =>
        i === 0 && header ? (
          <th key={i} scope="row">
            {cell}
          </th>
        ) : (
          <td key={i} aria-label={head[i]}>
            {cell}
          </td>
        ),
      )}
    </tr>
  );
  return (
    <div className={styles.scroll}>
      <table aria-label={props.label}>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.length === 0 && (
            <tr>
              <td colSpan={head.length} className="muted">
                No one in view.
              </td>
            </tr>
          )}
          {props.rows.map((r) => row(r.key, [...r.cells, ...figureCells(r.figures)], true))}
        </tbody>
        <tfoot>{row('total', ['Total', ...props.head.slice(1).map(() => ''), ...figureCells(props.total)], true)}</tfoot>
      </table>
    </div>
  );
}
