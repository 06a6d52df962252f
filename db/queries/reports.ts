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
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import type { RosterStatus } from './roster';

export type ReportAgent = { agentId: string; name: string; email: string; teamIds: string[]; teams: string[] };

/**
 * The agents a report covers: role agent, members (as agents) of one of
 * `teamIds` (every agent when undefined), not deactivated before `from`. An
 * agent created after the range is listed, with nothing in it.
 */
export async function reportAgents(db: DbOrTx, params: { teamIds: string[] | undefined; from: Date }): Promise<ReportAgent[]> {
  const inTeams =
    params.teamIds === undefined
      ? sql`true`
      : params.teamIds.length === 0
        ? sql`false`
        : sql`exists (select 1 from team_members tm where tm.user_id = u.id and tm.role = 'agent'
                       and tm.team_id = any(${`{${params.teamIds.join(',')}}`}::uuid[]))`;
  return db.execute<ReportAgent>(sql`
    select u.id as "agentId", u.name, u.email,
           coalesce((select array_agg(t.id::text order by t.name) from team_members tm join teams t on t.id = tm.team_id
                      where tm.user_id = u.id and tm.role = 'agent'), '{}') as "teamIds",
           coalesce((select array_agg(t.name order by t.name) from team_members tm join teams t on t.id = tm.team_id
                      where tm.user_id = u.id and tm.role = 'agent'), '{}') as "teams"
      from users u
     where u.role = 'agent' and ${inTeams}
       and (u.deactivated_at is null or u.deactivated_at > ${params.from.toISOString()}::timestamptz)
     order by u.name, u.id`);
}

/** One additive fact of one agent on one day (`YYYY-MM-DD` in the report's time zone). */
export type ReportFact =
  | { kind: 'status'; agentId: string; day: string; status: RosterStatus; value: number }
  | { kind: 'working' | 'staffedWorking'; agentId: string; day: string; value: number }
  | { kind: 'offered' | 'accepted' | 'declined' | 'missed' | 'handled'; agentId: string; day: string; value: number }
  /** One ticket first accepted by the agent that day, `value` seconds after it was created. */
  | { kind: 'wait'; agentId: string; day: string; value: number };

type RawFact = { kind: ReportFact['kind'] | 'end'; agentId: string; day: string; status: RosterStatus | null; value: number | string };

/**
 * The facts of `agentIds` over [from, to), `to` cut at now (the future has no
 * facts), in days of `timeZone` (an IANA name PostgreSQL knows). Seconds to
 * the millisecond. One statement, so every fact is read from one snapshot.
 */
export async function reportFacts(
  db: DbOrTx,
  params: { agentIds: string[]; from: Date; to: Date; timeZone: string },
): Promise<{ facts: ReportFact[]; to: Date }> {
  if (params.agentIds.length === 0) return { facts: [], to: new Date(Math.min(params.to.getTime(), Date.now())) };
  const agents = `{${params.agentIds.join(',')}}`;
  const tz = params.timeZone;
  const seconds = (interval: ReturnType<typeof sql>) => sql`round(extract(epoch from ${interval}) * 1000) / 1000`;
  const rows = await db.execute<RawFact>(sql`
    with
    bounds as materialized (
      select ${params.from.toISOString()}::timestamptz as r_from,
             least(${params.to.toISOString()}::timestamptz, now()) as r_to),
    agents as materialized (select unnest(${agents}::uuid[]) as agent_id),
    days as materialized (
      select to_char(d, 'YYYY-MM-DD') as day, d at time zone ${tz} as d_start, (d + interval '1 day') at time zone ${tz} as d_end
        from bounds, generate_series(date_trunc('day', r_from at time zone ${tz}), r_to at time zone ${tz}, interval '1 day') d),
    changes as (
      select e.agent_id, e.id, e.at, e.status
        from presence_events e, bounds b
       where e.agent_id in (select agent_id from agents) and e.at >= b.r_from and e.at < b.r_to
         and e.status <> e.previous_status),
    opening as (
      select a.agent_id, 0::bigint as id, greatest(b.r_from, u.created_at) as at,
             coalesce(
               (select e.status from presence_events e
                 where e.agent_id = a.agent_id and e.at < b.r_from and e.status <> e.previous_status
                 order by e.at desc, e.id desc limit 1),
               (select e.previous_status from presence_events e
                 where e.agent_id = a.agent_id and e.at >= b.r_from and e.status <> e.previous_status
                 order by e.at, e.id limit 1),
               p.status, 'offline') as status
        from agents a cross join bounds b join users u on u.id = a.agent_id
        left join agent_presence p on p.agent_id = a.agent_id
       where u.created_at < b.r_to),
    segments as materialized (
      select x.agent_id, x.status, x.at as s_start,
             coalesce(lead(x.at) over (partition by x.agent_id order by x.at, x.id), (select r_to from bounds)) as s_end
        from (select * from opening union all select * from changes) x),
    open_tickets as materialized (
      select t.id, t.created_at from tickets t, bounds b where t.ended_at >= b.r_from and t.created_at < b.r_to
      union all
      select t.id, t.created_at from tickets t, bounds b where t.ended_at is null and t.created_at < b.r_to),
    ticket_log as materialized (
      select e.ticket_id, e.id, e.type, e.agent_id, e.at,
             lead(e.at) over (partition by e.ticket_id order by e.id) as next_at
        from ticket_events e where e.ticket_id in (select id from open_tickets)),
    holds as (
      select l.agent_id, greatest(l.at, b.r_from) as h_start, least(coalesce(l.next_at, b.r_to), b.r_to) as h_end
        from ticket_log l, bounds b
       where l.type = 'accepted' and l.agent_id in (select agent_id from agents)
         and l.at < b.r_to and coalesce(l.next_at, b.r_to) > b.r_from),
    islands as materialized (
      select agent_id, min(h_start) as i_start, max(h_end) as i_end
        from (select agent_id, h_start, h_end,
                     count(*) filter (where h_start > reach) over (partition by agent_id order by h_start, h_end) as island
                from (select agent_id, h_start, h_end,
                             max(h_end) over (partition by agent_id order by h_start, h_end
                                              rows between unbounded preceding and 1 preceding) as reach
                        from holds) h) h
       group by agent_id, island),
    first_accepts as (
      select distinct on (l.ticket_id) l.agent_id, l.at, t.created_at
        from ticket_log l join open_tickets t on t.id = l.ticket_id
       where l.type = 'accepted'
       order by l.ticket_id, l.id)
    select 'status' as kind, s.agent_id as "agentId", d.day, s.status,
           sum(${seconds(sql`least(s.s_end, d.d_end) - greatest(s.s_start, d.d_start)`)})::float8 as value
      from segments s join days d on s.s_start < d.d_end and s.s_end > d.d_start
     where s.s_end > s.s_start
     group by s.agent_id, d.day, s.status
    union all
    select 'working', i.agent_id, d.day, null,
           sum(${seconds(sql`least(i.i_end, d.d_end) - greatest(i.i_start, d.d_start)`)})::float8
      from islands i join days d on i.i_start < d.d_end and i.i_end > d.d_start
     group by i.agent_id, d.day
    union all
    select 'staffedWorking', i.agent_id, d.day, null,
           sum(${seconds(sql`least(i.i_end, s.s_end, d.d_end) - greatest(i.i_start, s.s_start, d.d_start)`)})::float8
      from islands i
      join segments s on s.agent_id = i.agent_id and s.status in ('available', 'busy')
                     and s.s_start < i.i_end and s.s_end > i.i_start
      join days d on d.d_start < least(i.i_end, s.s_end) and d.d_end > greatest(i.i_start, s.s_start)
     group by i.agent_id, d.day
    union all
    select case e.type when 'offer_expired' then 'missed' when 'completed' then 'handled' else e.type::text end,
           e.agent_id, d.day, null, count(*)::float8
      from ticket_events e cross join bounds b join days d on e.at >= d.d_start and e.at < d.d_end
     where e.agent_id in (select agent_id from agents) and e.at >= b.r_from and e.at < b.r_to
       and e.type in ('offered', 'accepted', 'declined', 'offer_expired', 'completed')
     group by e.type, e.agent_id, d.day
    union all
    select 'wait', f.agent_id, d.day, null, ${seconds(sql`f.at - f.created_at`)}::float8
      from first_accepts f cross join bounds b join days d on f.at >= d.d_start and f.at < d.d_end
     where f.agent_id in (select agent_id from agents) and f.at >= b.r_from and f.at < b.r_to
    union all
    select 'end', null, null, null, extract(epoch from r_to)::float8 from bounds`);
  let to = params.to;
  const facts: ReportFact[] = [];
  for (const { kind, agentId, day, status, value } of rows) {
    if (kind === 'end') to = new Date(Math.round(Number(value) * 1000));
    else if (kind === 'status') facts.push({ kind, agentId, day, status: status as RosterStatus, value: Number(value) });
    else facts.push({ kind, agentId, day, value: Number(value) });
  }
  return { facts, to };
}

/** The teams of `teamIds` (every team when undefined), by name. */
export async function reportTeams(db: DbOrTx, params: { teamIds: string[] | undefined }): Promise<{ id: string; name: string }[]> {
  if (params.teamIds?.length === 0) return [];
  return db.execute<{ id: string; name: string }>(sql`
    select id, name from teams
     where ${params.teamIds === undefined ? sql`true` : sql`id = any(${`{${params.teamIds.join(',')}}`}::uuid[])`}
     order by name, id`);
}
