// Reads for the reports (server/reports): the agents in a report's scope, and
// the facts of a range cut into the days of a time zone, read from the two
// event logs. Every figure is additive per agent and day (seconds, counts),
// except waits, which come back as samples for the caller to take percentiles
// of: that way one read serves the per-agent, per-team and per-day views.
//
// Time in status: an agent's status changes are the presence events whose
// status differs from the previous one, at `at` (which equals the row's
// `since`: both are the writing transaction's now()). The status in force at
// the range's start is the last change before it; when retention has deleted
// that, the previous status of the first change after it; when there is no
// change at all, the status the agent has now.
//
// Working time: an agent holds a ticket from its `accepted` event to the
// ticket's next event (completed, released, requeued or cancelled), or until
// now. Overlapping holds (three chats at once) count once: the holds are
// merged into islands before they are measured.
import { sql, type SQL } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { teamColumns, teamFilter, type RosterStatus } from './roster';

export type ReportAgent = { agentId: string; name: string; email: string; teamIds: string[]; teams: string[] };

/**
 * The agents a report covers: role agent, members (as agents) of one of
 * `teamIds` (every agent when undefined), not deactivated before `from`. An
 * agent created after the range is listed, with nothing in it.
 */
export async function reportAgents(db: DbOrTx, params: { teamIds: string[] | undefined; from: Date }): Promise<ReportAgent[]> {
  return db.execute<ReportAgent>(sql`
    select u.id as "agentId", u.name, u.email, ${teamColumns}
      from users u
     where u.role = 'agent' and ${teamFilter(params.teamIds)}
       and (u.deactivated_at is null or u.deactivated_at > ${params.from.toISOString()}::timestamptz)
     order by u.name, u.id`);
}

/** What one agent did on one day (`YYYY-MM-DD` in the report's time zone): seconds and counts add up across days. */
export type ReportDay = {
  agentId: string;
  day: string;
  seconds: Record<RosterStatus, number>;
  working: number;
  staffedWorking: number;
  offered: number;
  accepted: number;
  declined: number;
  missed: number;
  handled: number;
  /** For each ticket the agent first accepted that day: seconds from its creation, in no order. */
  waits: number[];
};

type RawDay = Omit<ReportDay, 'seconds' | 'waits'> & Record<RosterStatus, number> & { waits: number[] | null };

const COLUMNS = ['available', 'busy', 'away', 'offline', 'working', 'staffedWorking', 'offered', 'accepted', 'declined', 'missed', 'handled'] as const;

/**
 * How the facts statement runs: JIT compiled more than the 1-day statement
 * took to run (1.4 s of 1.7 s), and the range's ticket events are sorted in
 * memory rather than spilled (bench/results/reports-full.md).
 */
export const REPORT_SESSION = ['jit = off', "work_mem = '128MB'"] as const;

/**
 * The days of `agentIds` over [from, to), `to` cut at now (the future has no
 * facts), in days of `timeZone` (an IANA name PostgreSQL knows); seconds to
 * the millisecond. `everyAgent` says the list is every agent, so tickets need
 * no narrowing to theirs. One transaction, so the time cut and the facts are
 * read from one snapshot, with REPORT_SESSION's settings.
 */
export async function reportFacts(
  db: Db,
  params: { agentIds: string[]; from: Date; to: Date; timeZone: string; everyAgent: boolean },
): Promise<{ days: ReportDay[]; to: Date }> {
  return db.transaction(async (tx) => {
    for (const setting of REPORT_SESSION) await tx.execute(sql.raw(`set local ${setting}`));
    const [cut] = await tx.execute<{ to: Date | string }>(sql`select least(${params.to.toISOString()}::timestamptz, now()) as "to"`);
    const to = new Date(cut!.to);
    if (params.agentIds.length === 0 || to <= params.from) return { days: [], to };
    const rows = await tx.execute<RawDay>(factsStatement({ ...params, to }));
    const days = rows.map((row): ReportDay => {
      const numbers = Object.fromEntries(COLUMNS.map((c) => [c, Number(row[c])])) as Record<(typeof COLUMNS)[number], number>;
      const { available, busy, away, offline, ...rest } = numbers;
      return { agentId: row.agentId, day: row.day, seconds: { available, busy, away, offline }, ...rest, waits: (row.waits ?? []).map(Number) };
    });
    return { days, to };
  });
}

/** The facts statement itself (the benchmark EXPLAINs it). */
export function factsStatement(params: { agentIds: string[]; from: Date; to: Date; timeZone: string; everyAgent: boolean }) {
  const agents = sql`${`{${params.agentIds.join(',')}}`}::uuid[]`;
  const from = sql`${params.from.toISOString()}::timestamptz`;
  const to = sql`${params.to.toISOString()}::timestamptz`;
  const tz = sql`${params.timeZone}::text`;
  /** Seconds between two times, to the millisecond. */
  const seconds = (later: SQL, earlier: SQL) => sql`round(extract(epoch from ${later} - ${earlier}) * 1000) / 1000`;
  /** The local day of a time, and the days an interval [start, end) spans, as local midnights. */
  const dayOf = (at: SQL) => sql`to_char(${at} at time zone ${tz}, 'YYYY-MM-DD')`;
  const daysOf = (start: SQL, end: SQL) =>
    sql`generate_series(date_trunc('day', ${start} at time zone ${tz}), ${end} at time zone ${tz}, interval '1 day')`;
  return sql`
    with
    changes as (
      select e.agent_id, e.id, e.at, e.status from presence_events e
       where e.agent_id = any(${agents}) and e.at >= ${from} and e.at < ${to} and e.status <> e.previous_status),
    opening as (
      select a.agent_id, 0::bigint as id, greatest(${from}, u.created_at) as at,
             coalesce(
               (select e.status from presence_events e
                 where e.agent_id = a.agent_id and e.at < ${from} and e.status <> e.previous_status
                 order by e.at desc, e.id desc limit 1),
               (select e.previous_status from presence_events e
                 where e.agent_id = a.agent_id and e.at >= ${from} and e.status <> e.previous_status
                 order by e.at, e.id limit 1),
               p.status, 'offline') as status
        from unnest(${agents}) a(agent_id) join users u on u.id = a.agent_id
        left join agent_presence p on p.agent_id = a.agent_id
       where u.created_at < ${to}),
    segments as (
      select x.agent_id, x.status, x.at as s_start,
             coalesce(lead(x.at) over (partition by x.agent_id order by x.at, x.id), ${to}) as s_end
        from (select * from opening union all select * from changes) x),
    -- Each status segment cut at the local midnights it spans.
    segment_days as materialized (
      select s.agent_id, s.status, to_char(d, 'YYYY-MM-DD') as day,
             greatest(s.s_start, d at time zone ${tz}) as p_start, least(s.s_end, (d + interval '1 day') at time zone ${tz}) as p_end
        from segments s cross join lateral ${daysOf(sql`s.s_start`, sql`s.s_end`)} d
       where s.s_end > s.s_start and d at time zone ${tz} < s.s_end),
    open_tickets as materialized (
      select t.id, t.created_at from tickets t
       where (t.ended_at >= ${from} or t.ended_at is null) and t.created_at < ${to}
         ${
           params.everyAgent
             ? sql``
             : sql`and exists (select 1 from ticket_events e where e.ticket_id = t.id and e.type = 'accepted' and e.agent_id = any(${agents}))`
         }),
    ticket_log as materialized (
      select e.ticket_id, e.id, e.type, e.agent_id, e.at,
             lead(e.at) over (partition by e.ticket_id order by e.id) as next_at
        from ticket_events e where e.ticket_id in (select id from open_tickets)),
    holds as (
      select l.agent_id, greatest(l.at, ${from}) as h_start, least(coalesce(l.next_at, ${to}), ${to}) as h_end
        from ticket_log l
       where l.type = 'accepted' and l.agent_id = any(${agents}) and l.at < ${to} and coalesce(l.next_at, ${to}) > ${from}),
    -- Holds merged where they overlap: a new island starts where a hold begins after every earlier one ended.
    islands as (
      select agent_id, min(h_start) as i_start, max(h_end) as i_end
        from (select agent_id, h_start, h_end,
                     count(*) filter (where h_start > reach) over (partition by agent_id order by h_start, h_end) as island
                from (select agent_id, h_start, h_end,
                             max(h_end) over (partition by agent_id order by h_start, h_end
                                              rows between unbounded preceding and 1 preceding) as reach
                        from holds) h) h
       group by agent_id, island),
    island_days as materialized (
      select i.agent_id, to_char(d, 'YYYY-MM-DD') as day,
             greatest(i.i_start, d at time zone ${tz}) as p_start, least(i.i_end, (d + interval '1 day') at time zone ${tz}) as p_end
        from islands i cross join lateral ${daysOf(sql`i.i_start`, sql`i.i_end`)} d
       where d at time zone ${tz} < i.i_end),
    first_accepts as (
      select distinct on (l.ticket_id) l.agent_id, l.at, t.created_at
        from ticket_log l join open_tickets t on t.id = l.ticket_id
       where l.type = 'accepted'
       order by l.ticket_id, l.id),
    facts (agent_id, day, kind, value) as (
      select agent_id, day, status::text, ${seconds(sql`p_end`, sql`p_start`)} from segment_days
      union all
      select agent_id, day, 'working', ${seconds(sql`p_end`, sql`p_start`)} from island_days
      union all
      select i.agent_id, i.day, 'staffedWorking', ${seconds(sql`least(i.p_end, s.p_end)`, sql`greatest(i.p_start, s.p_start)`)}
        from island_days i join segment_days s
          on s.agent_id = i.agent_id and s.day = i.day and s.status in ('available', 'busy')
         and s.p_start < i.p_end and s.p_end > i.p_start
      union all
      -- Counted here, so the grouping below takes thousands of rows, not each event.
      select e.agent_id, ${dayOf(sql`e.at`)},
             case e.type when 'offer_expired' then 'missed' when 'completed' then 'handled' else e.type::text end, count(*)
        from ticket_events e
       where e.agent_id = any(${agents}) and e.at >= ${from} and e.at < ${to}
         and e.type in ('offered', 'accepted', 'declined', 'offer_expired', 'completed')
       group by 1, 2, 3
      union all
      select f.agent_id, ${dayOf(sql`f.at`)}, 'wait', ${seconds(sql`f.at`, sql`f.created_at`)}
        from first_accepts f
       where f.agent_id = any(${agents}) and f.at >= ${from} and f.at < ${to})
    select agent_id as "agentId", day,
           ${sql.join(
             COLUMNS.map((c) => sql`coalesce(sum(value) filter (where kind = ${c}), 0)::float8 as ${sql.identifier(c)}`),
             sql`, `,
           )},
           array_agg(value::float8) filter (where kind = 'wait') as waits
      from facts group by agent_id, day`;
}

/** The teams of `teamIds` (every team when undefined), by name. */
export async function reportTeams(db: DbOrTx, params: { teamIds: string[] | undefined }): Promise<{ id: string; name: string }[]> {
  if (params.teamIds?.length === 0) return [];
  return db.execute<{ id: string; name: string }>(sql`
    select id, name from teams
     where ${params.teamIds === undefined ? sql`true` : sql`id = any(${`{${params.teamIds.join(',')}}`}::uuid[])`}
     order by name, id`);
}
