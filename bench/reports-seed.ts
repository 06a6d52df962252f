// The reports benchmark's history, written straight into the two event logs in
// bulk SQL (generate_series; a few statements, not one per row): the
// roster-UI benchmark's desk (teams of agents and a signed-in admin,
// bench/roster-ui-seed.ts), then for every agent and day of the history a
// shift of status changes with device and load events in between (which
// change no status), and the day's tickets, each created, offered, accepted
// and completed, some declined or let expire by the next agent first, some
// released and taken again. Each agent's shift starts at its own minute of
// the day, so some shifts cross midnight. Rows go in in time order, as the
// product writes them, and each log's ids follow its times, as the product's
// commit-order trigger hands them out (0005_commit_order.sql). The seed runs
// with session_replication_role = replica, which skips that trigger (so the
// ids are given here, and the sequences moved past them) and the foreign-key
// checks (its rows reference rows it has just written): a million of each
// made the seed four times slower.
// Every event lies before `end` plus a shift, which the caller keeps in the
// past: a report's range is cut at now, and these are all complete.
import postgres from 'postgres';
import { createDb, createSql } from '../db/client';
import { insertQueue } from '../db/queries/queues';
import { createApiKey } from '../server/auth/api-keys';
import { seedRoster } from './roster-ui-seed';

export type History = {
  agents: number;
  teams: number;
  /** Days of events, the last one ending at `end`. */
  days: number;
  /** Status changes per agent per shift (at least 3: signs in, changes, signs out). */
  statusChanges: number;
  /** Presence events that change no status (devices, load) between two changes. */
  otherEventsPerChange: number;
  ticketsPerShift: number;
};

/** A shift: 9 hours, from the agent's own minute of the day. */
const SHIFT_SECONDS = 9 * 3600;

export type SeededHistory = {
  adminToken: string;
  /** The key of an integration with scope reports:read (the BI export's way in). */
  reportsKey: string;
  teams: { id: string; name: string }[];
  rows: { presenceEvents: number; statusChanges: number; tickets: number; ticketEvents: number };
  /** Seconds spent, by step. */
  seconds: { desk: number; presence: number; tickets: number; vacuum: number };
};

const since = (started: number) => (performance.now() - started) / 1000;

/**
 * Seeds `history` on a fresh, unmigrated database at `url`: days
 * [end − days, end), end a UTC midnight. Ends with VACUUM ANALYZE, as a
 * database that has been running a while would have its statistics.
 */
export async function seedHistory(url: string, history: History, end: Date): Promise<SeededHistory> {
  if (history.statusChanges < 3) throw new Error('statusChanges: at least 3');
  let started = performance.now();
  const desk = await seedRoster(url, { agents: history.agents, teams: history.teams });
  const start = new Date(end.getTime() - history.days * 86_400_000);
  const pool = createSql(url, { max: 1 });
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const db = createDb(pool);
    const teams = await sql<{ id: string; name: string }[]>`select id::text, name from teams order by name`;
    const key = await createApiKey(db, { integration: 'Bench BI', name: 'reports benchmark', scopes: ['reports:read'] });
    const queue = await insertQueue(db, { name: 'Bench reports', teamId: teams[0]!.id });
    // The agents existed before the history; the admin too.
    await sql`update users set created_at = ${start.toISOString()}::timestamptz - interval '30 days'`;
    const seconds = { desk: since(started), presence: 0, tickets: 0, vacuum: 0 };

    /**
     * One bulk write: no wait for each commit, no triggers or foreign-key checks
     * (the writers give ids in time order themselves), and each agent's number
     * at hand in bench_agent.
     */
    const bulk = (write: (tx: postgres.TransactionSql) => Promise<void>) =>
      sql.begin(async (tx) => {
        await tx`set local synchronous_commit = off`;
        await tx`set local session_replication_role = replica`;
        await tx`
          create temporary table bench_agent on commit drop as
          select id, substring(email from 'bench-agent-([0-9]+)@')::int - 1 as i
            from users where role = 'agent'`;
        await write(tx);
      });

    started = performance.now();
    await bulk((tx) => presenceEvents(tx, history, start));
    seconds.presence = since(started);

    started = performance.now();
    await bulk((tx) => ticketHistory(tx, history, start, { integrationId: key.integrationId, queueId: queue.id }));
    seconds.tickets = since(started);

    started = performance.now();
    await sql`vacuum (analyze) presence_events, tickets, ticket_events, users, team_members, agent_presence`;
    seconds.vacuum = since(started);

    const [rows] = await sql<SeededHistory['rows'][]>`
      select (select count(*)::int from presence_events) as "presenceEvents",
             (select count(*)::int from presence_events where status <> previous_status) as "statusChanges",
             (select count(*)::int from tickets) as tickets,
             (select count(*)::int from ticket_events) as "ticketEvents"`;
    return { adminToken: desk.adminToken, reportsKey: key.key, teams, rows: rows!, seconds };
  } finally {
    await sql.end({ timeout: 5 });
    await pool.end({ timeout: 5 });
  }
}

/**
 * Per agent and day: change k of n at shift start + k × (shift / n) plus up to
 * 30 s; the statuses run available, busy, available, away, available, … and
 * end offline, so each differs from the one before. After each change,
 * `otherEventsPerChange` events 400 s apart repeat the status (a second device,
 * a load change): the report must skip them.
 */
async function presenceEvents(tx: postgres.TransactionSql, h: History, start: Date): Promise<void> {
  const n = h.statusChanges;
  // The other events fit between one change and the next, whatever its jitter.
  const gap = (SHIFT_SECONDS / n - 30) / (h.otherEventsPerChange + 1);
  await tx`
    with change as (
      select a.id as agent_id, d, k,
             ${start.toISOString()}::timestamptz + make_interval(days => d, mins => (a.i * 97) % 1440)
               + make_interval(secs => k * ${SHIFT_SECONDS / n}::float8 + floor(random() * 30)) as at,
             case when k = 0 then 'available' when k = ${n - 1}::int then 'offline'
                  when k % 4 = 1 then 'busy' when k % 4 = 3 then 'away' else 'available' end as status,
             case when k = 0 then 'offline' when k - 1 = 0 then 'available'
                  when (k - 1) % 4 = 1 then 'busy' when (k - 1) % 4 = 3 then 'away' else 'available' end as previous
        from bench_agent a, generate_series(0, ${h.days - 1}::int) d, generate_series(0, ${n - 1}::int) k),
    event as (
      select agent_id, at, status, previous, 1 as devices from change
      union all
      select agent_id, at + make_interval(secs => j * ${gap}::float8), status, status, 1 + j % 2 from change, generate_series(1, ${h.otherEventsPerChange}::int) j)
    insert into presence_events (id, agent_id, version, status, previous_status, reason, since, devices, at)
    select row_number() over (order by at), agent_id, row_number() over (partition by agent_id order by at)::int,
           status::agent_status, previous::agent_status, 'manual', at, devices, at
      from event
     order by at`;
  await tx`select setval('presence_events_id_seq', (select max(id) from presence_events))`;
  // The agents' rows now: version and status after their last event.
  await tx`
    update agent_presence p set status = e.status, since = e.at, version = e.version, reason = 'disconnected'
      from (select distinct on (agent_id) agent_id, status, at, version from presence_events order by agent_id, at desc, id desc) e
     where e.agent_id = p.agent_id`;
}

/**
 * Per agent and day, `ticketsPerShift` chat tickets spread over the shift,
 * created up to 2 min apart from their slot, offered 2–62 s after, accepted
 * 3–18 s after the offer and completed after 4–29 min: an agent often holds
 * two at once. One in ten is first offered to the next agent, who declines;
 * one in twenty first to the next agent, whose offer expires after 30 s; one in
 * twenty-five is released halfway and accepted again 10 s later. The next
 * agent is the one whose shift starts 15 minutes later (97 × 15 ≡ 15 mod 1440),
 * on a desk of more than 15.
 */
async function ticketHistory(
  tx: postgres.TransactionSql,
  h: History,
  start: Date,
  ids: { integrationId: string; queueId: string },
): Promise<void> {
  const step = h.agents > 15 ? 15 : 1;
  await tx`
    create temporary table bench_ticket on commit drop as
    select gen_random_uuid() as id, a.id as agent_id, n.id as neighbour_id, a.i, d, t,
           case when (t + a.i) % 10 = 3 then 'declined' when (t + a.i) % 20 = 7 then 'expired'
                when (t + a.i) % 25 = 11 then 'released' else 'plain' end as variant,
           c, 2 + random() * 60 as wait_s, 3 + random() * 15 as answer_s, 240 + random() * 1500 as handle_s
      from bench_agent a join bench_agent n on n.i = (a.i + ${step}::int) % ${h.agents}::int,
           generate_series(0, ${h.days - 1}::int) d, generate_series(0, ${h.ticketsPerShift - 1}::int) t,
           lateral (select ${start.toISOString()}::timestamptz + make_interval(days => d, mins => (a.i * 97) % 1440)
                           + make_interval(secs => t * ${SHIFT_SECONDS / h.ticketsPerShift}::float8 + random() * 120) as c) c`;
  // Relative times (seconds after creation) of each ticket's events.
  await tx`
    create temporary table bench_step on commit drop as
    select id, agent_id, neighbour_id, variant, c,
           case variant when 'declined' then 1.5 when 'expired' then 30.5 else 0 end + wait_s as offered,
           case variant when 'declined' then 1.5 when 'expired' then 30.5 else 0 end + wait_s + answer_s as accepted,
           case variant when 'declined' then 1.5 when 'expired' then 30.5 else 0 end + wait_s + answer_s + handle_s
             + case variant when 'released' then 10 else 0 end as completed
      from bench_ticket`;
  await tx`
    insert into tickets (id, integration_id, external_id, queue_id, channel, subject, state, created_at, queued_at, accepted_at, ended_at, version)
    select id, ${ids.integrationId}::uuid, 'bench-' || id, ${ids.queueId}::uuid, 'chat', 'Bench ticket', 'completed', c,
           c + make_interval(secs => case variant when 'released' then accepted + (completed - 10 - accepted) / 2 else 0 end),
           c + make_interval(secs => accepted), c + make_interval(secs => completed), 5
      from bench_step
     order by c`;
  await tx`
    insert into ticket_events (id, ticket_id, integration_id, type, state, agent_id, version, at)
    select row_number() over (order by s.c + make_interval(secs => e.after)), s.id, ${ids.integrationId}::uuid,
           e.type::ticket_event_type, e.state::ticket_state, e.agent_id, 1, s.c + make_interval(secs => e.after)
      from bench_step s
      cross join lateral (values
        ('created', 'queued', null::uuid, 0::float8, true),
        ('offered', 'offered', s.neighbour_id, 0.5, s.variant in ('declined', 'expired')),
        ('declined', 'queued', s.neighbour_id, 1, s.variant = 'declined'),
        ('offer_expired', 'queued', s.neighbour_id, 30.5, s.variant = 'expired'),
        ('offered', 'offered', s.agent_id, s.offered, true),
        ('accepted', 'assigned', s.agent_id, s.accepted, true),
        ('released', 'queued', s.agent_id, s.accepted + (s.completed - 10 - s.accepted) / 2, s.variant = 'released'),
        ('offered', 'offered', s.agent_id, s.accepted + (s.completed - 10 - s.accepted) / 2 + 5, s.variant = 'released'),
        ('accepted', 'assigned', s.agent_id, s.accepted + (s.completed - 10 - s.accepted) / 2 + 10, s.variant = 'released'),
        ('completed', 'completed', s.agent_id, s.completed, true)
      ) as e(type, state, agent_id, after, present)
     where e.present
     order by s.c + make_interval(secs => e.after)`;
  await tx`select setval('ticket_events_id_seq', (select max(id) from ticket_events))`;
}
