// Deleting expired history, one batch per call: each statement deletes at most
// `batch` rows and commits on its own, so no lock is held long and a large
// backlog goes out in many short statements (server/jobs/retention.ts loops).
// Each returns how many rows it deleted. Nothing here touches an agent's
// current state (agent_presence, live device sessions): only history.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';

async function deleted(db: DbOrTx, statement: ReturnType<typeof sql>): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`with gone as (${statement} returning 1) select count(*)::int as n from gone`);
  return row?.n ?? 0;
}

const at = (time: Date) => sql`${time.toISOString()}::timestamptz`;

/**
 * Presence events older than `before`, from the oldest id on, stopping at the
 * first event that is not: the log stays one unbroken run of ids, which is
 * what a resuming roster subscriber relies on (server/roster/service.ts
 * `resumable`: every id after the oldest kept one is there). Ids follow time
 * closely (given at commit), so the walk is by primary key and never scans
 * the events it keeps.
 */
export function deletePresenceEvents(db: DbOrTx, params: { before: Date; batch: number }): Promise<number> {
  return deleted(
    db,
    sql`with head as materialized (select id, at from presence_events order by id limit ${params.batch}::int),
             first_kept as (select min(id) as id from head where at >= ${at(params.before)})
        delete from presence_events e using head h
         where e.id = h.id and h.at < ${at(params.before)}
           and h.id < coalesce((select id from first_kept), 9223372036854775807)`,
  );
}

/** Device sessions that ended before `before`; a live session (not ended) is never deleted. */
export function deleteEndedDeviceSessions(db: DbOrTx, params: { before: Date; batch: number }): Promise<number> {
  return deleted(
    db,
    sql`delete from device_sessions where id in (
          select id from device_sessions where ended_at < ${at(params.before)} limit ${params.batch}::int)`,
  );
}

export function deleteAuditLog(db: DbOrTx, params: { before: Date; batch: number }): Promise<number> {
  return deleted(
    db,
    sql`delete from audit_log where id in (
          select id from audit_log where at < ${at(params.before)} order by at limit ${params.batch}::int)`,
  );
}

/** Sign-in throttling rows whose window began before `windowBefore` and whose block (if any) is over at `now`. */
export function deleteSpentLoginThrottles(db: DbOrTx, params: { now: Date; windowBefore: Date; batch: number }): Promise<number> {
  return deleted(
    db,
    sql`delete from login_throttle where key in (
          select key from login_throttle
           where window_started_at < ${at(params.windowBefore)}
             and (blocked_until is null or blocked_until <= ${at(params.now)})
           limit ${params.batch}::int)`,
  );
}
