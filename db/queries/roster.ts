// Reads for the live roster: the snapshot of every visible agent, the deltas
// after an event id, and one agent's devices; and the agent's last-seen choice.
// A roster row is complete (a client replaces, never merges), and carries the
// version it was read at. A delta's person columns (name, email, teams, the
// last-seen choice) and its last-seen time are read as they are now, not as
// they were at its event: a replayed change follows the agent's choice of today.
// What each viewer is shown of a row is decided in server/roster/visibility.ts.
import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { executePrepared, opaque } from '../pipelined';
import { users, type Channel } from '../schema';

export type RosterStatus = 'available' | 'busy' | 'away' | 'offline';
export type RosterRow = {
  agentId: string;
  name: string;
  email: string;
  teamIds: string[];
  teams: string[];
  status: RosterStatus;
  reason: 'manual' | 'idle' | 'disconnected' | 'forced' | 'missed_offers';
  since: string;
  devices: number;
  /** When the agent was last seen on any device (now-ish while connected). */
  lastSeenAt: string | null;
  /** For a forced status: who imposed it, and why. */
  forcedBy: string | null;
  note: string | null;
  /** Open (offered or assigned) tickets per channel; channels without any are absent. */
  load: Partial<Record<Channel, number>>;
  /** The agent's choice: teammates and integrations see only the day of `since` and `lastSeenAt` (server/roster/visibility.ts). */
  hideLastSeen: boolean;
  version: number;
};

type RawRow = Omit<RosterRow, 'since' | 'lastSeenAt'> & { since: Date | string; lastSeenAt: Date | string | null };

/** An agent's teams (`u`: the user), as ids and names in name order: the roster's and the reports'. */
export const teamColumns = sql`
  coalesce((select array_agg(t.id::text order by t.name) from team_members tm join teams t on t.id = tm.team_id
             where tm.user_id = u.id and tm.role = 'agent'), '{}') as "teamIds",
  coalesce((select array_agg(t.name order by t.name) from team_members tm join teams t on t.id = tm.team_id
             where tm.user_id = u.id and tm.role = 'agent'), '{}') as "teams"`;

/** Agents (`u`) who are agents of one of `teamIds`; every agent when undefined, none when empty. */
export function teamFilter(teamIds: string[] | undefined) {
  if (teamIds === undefined) return sql`true`;
  if (teamIds.length === 0) return sql`false`;
  return sql`exists (select 1 from team_members tm where tm.user_id = u.id and tm.role = 'agent'
                      and tm.team_id in (${sql.join(teamIds.map((id) => sql`${id}::uuid`), sql`, `)}))`;
}

/** The agent's open tickets per channel, as of its latest presence write (a load change is itself a roster event). */
const loadColumn = sql`p.load as "load"`;

const iso = (value: Date | string) => (value instanceof Date ? value : new Date(value)).toISOString();
const toRow = ({ since, lastSeenAt, ...rest }: RawRow): RosterRow => ({
  ...rest,
  since: iso(since),
  lastSeenAt: lastSeenAt === null ? null : iso(lastSeenAt),
});

/** Last seen: the newest heartbeat of a live device, else the time recorded when the last one went. */
const lastSeenColumn = sql`coalesce((select max(s.last_seen_at) from device_sessions s
                                     where s.agent_id = u.id and s.ended_at is null), p.last_seen_at) as "lastSeenAt"`;

/** Every visible agent, and the id of the last event the rows include (one consistent statement). */
export async function rosterSnapshot(
  db: DbOrTx,
  params: { teamIds?: string[]; agentId?: string },
): Promise<{ rows: RosterRow[]; lastEventId: number }> {
  const rows = await db.execute<RawRow & { lastEventId: string }>(sql`
    select u.id as "agentId", u.name, u.email, p.status, p.reason, p.since, p.devices, p.version,
           u.hide_last_seen as "hideLastSeen", ${teamColumns}, ${lastSeenColumn}, ${loadColumn},
           case when p.reason = 'forced' then (select a.name from users a where a.id = p.manual_actor_id) end as "forcedBy",
           case when p.reason = 'forced' then p.manual_note end as note,
           (select coalesce(max(id), 0) from presence_events) as "lastEventId"
      from users u join agent_presence p on p.agent_id = u.id
     where u.role = 'agent' and ${teamFilter(params.teamIds)}
       and ${params.agentId ? sql`u.id = ${params.agentId}::uuid` : sql`true`}
     order by u.name, u.id`);
  let lastEventId = 0;
  if (rows[0]) lastEventId = Number(rows[0].lastEventId);
  else {
    const [row] = await db.execute<{ id: string }>(sql`select coalesce(max(id), 0) as id from presence_events`);
    lastEventId = Number(row?.id ?? 0);
  }
  return { rows: rows.map(({ lastEventId: _ignored, ...row }) => toRow(row)), lastEventId };
}

/** The roster changes after `afterId`, in id order, each as the full row at that event. */
export async function rosterDeltasAfter(
  db: DbOrTx,
  params: { afterId: number; limit: number },
): Promise<Array<{ eventId: number; row: RosterRow }>> {
  // Prepared: each node runs this on every doorbell. The cursor is read through
  // a sub-select (`opaque`), so that PostgreSQL keeps one generic plan.
  const rows = await executePrepared<RawRow & { eventId: string }>(db, sql`
    select e.id as "eventId", u.id as "agentId", u.name, u.email, e.status, e.reason, e.since, e.devices, e.version,
           u.hide_last_seen as "hideLastSeen", ${teamColumns}, ${lastSeenColumn}, ${loadColumn},
           case when e.reason = 'forced' then (select a.name from users a where a.id = e.actor_id) end as "forcedBy",
           case when e.reason = 'forced' then e.note end as note
      from presence_events e join users u on u.id = e.agent_id join agent_presence p on p.agent_id = e.agent_id
     where e.id > ${opaque(params.afterId, 'bigint')}
     order by e.id
     limit ${params.limit}::int`);
  return rows.map(({ eventId, ...row }) => ({ eventId: Number(eventId), row: toRow(row) }));
}

/** The span of the retained event log: ids after `oldest - 1` can all be replayed. */
export async function eventLogSpan(db: DbOrTx): Promise<{ oldest: number; latest: number }> {
  const [row] = await db.execute<{ oldest: string; latest: string }>(
    sql`select coalesce(min(id), 1) as oldest, coalesce(max(id), 0) as latest from presence_events`,
  );
  return { oldest: Number(row?.oldest ?? 1), latest: Number(row?.latest ?? 0) };
}

export async function latestEventId(db: DbOrTx): Promise<number> {
  const [row] = await db.execute<{ id: string }>(sql`select coalesce(max(id), 0) as id from presence_events`);
  return Number(row?.id ?? 0);
}

export type DeviceRow = {
  sessionId: string;
  deviceId: string;
  label: string;
  activity: 'active' | 'idle';
  connectedAt: string;
  lastSeenAt: string;
};

/** An agent's live device sessions, oldest first. */
export async function agentDevices(db: DbOrTx, params: { agentId: string }): Promise<DeviceRow[]> {
  const rows = await db.execute<{
    sessionId: string;
    deviceId: string;
    label: string;
    activity: 'active' | 'idle';
    connectedAt: Date | string;
    lastSeenAt: Date | string;
  }>(sql`
    select id as "sessionId", device_id as "deviceId", label, activity,
           connected_at as "connectedAt", last_seen_at as "lastSeenAt"
      from device_sessions
     where agent_id = ${params.agentId} and ended_at is null
     order by connected_at, id`);
  return rows.map((r) => ({
    ...r,
    connectedAt: new Date(r.connectedAt).toISOString(),
    lastSeenAt: new Date(r.lastSeenAt).toISOString(),
  }));
}

/** Whether the user hides their exact last-seen time from teammates; undefined when there is no such user. */
export async function hideLastSeenOf(db: DbOrTx, params: { userId: string }): Promise<boolean | undefined> {
  const [row] = await db.select({ hide: users.hideLastSeen }).from(users).where(eq(users.id, params.userId));
  return row?.hide;
}

export async function setHideLastSeen(db: DbOrTx, params: { userId: string; hide: boolean }): Promise<void> {
  await db.update(users).set({ hideLastSeen: params.hide }).where(eq(users.id, params.userId));
}
