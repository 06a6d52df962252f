// Personal history is kept for a set time, then deleted (docs/privacy.md):
// presence events and ended device sessions after PRESENCE_RETENTION_DAYS, the
// audit log after AUDIT_RETENTION_DAYS, browser sign-ins once expired (absolute
// or idle: ended as the presence sweep ends them, of which this is the
// backstop), and sign-in throttling rows once their window and block are over.
// An agent's current state — its presence row, its live sessions — is never
// deleted; nor is any presence event newer than one kept (the roster's resume
// needs the retained log unbroken).
//
// The deletion runs hourly as a pg-boss cron schedule: every node upserts the
// same schedule and runs a worker, and pg-boss sends one job per occurrence
// across all nodes (one instance claims each cron pass), which one node's worker takes.
// The queue holds at most one job queued or active (`exclusive`), so a slow
// run is never joined by the next one.
import type { PgBoss } from 'pg-boss';
import type { Db } from '../../db/client';
import { deleteAuditLog, deleteEndedDeviceSessions, deletePresenceEvents, deleteSpentLoginThrottles } from '../../db/queries/retention';
import { expireSignIns } from '../auth/service';
import type { Env } from '../env';
import type { Logger } from '../log';

export const RETENTION_QUEUE = 'retention';
/** Hourly, at minute 17 (pg-boss cron is minute-grained; off the hour, where schedules crowd). */
export const RETENTION_CRON = '17 * * * *';
/** Rows one statement deletes at most. */
export const RETENTION_BATCH = 5_000;

const DAY_MS = 86_400_000;

export type RetentionSettings = {
  presenceRetentionDays: number;
  auditRetentionDays: number;
  /** AUTH_SESSION_IDLE_MS: a sign-in unused this long is over. */
  authSessionIdleMs: number;
  /** LOGIN_THROTTLE_WINDOW_MS: a throttling row's window lasts this long. */
  loginThrottleWindowMs: number;
  /** The time the retention is measured from (tests pass one); sign-ins are judged by the database's clock. */
  now?: Date;
  batch?: number;
};

export type Deleted = {
  presenceEvents: number;
  deviceSessions: number;
  auditLog: number;
  authSessions: number;
  loginThrottle: number;
};

/** Calls `deleteBatch` until a batch comes back short; the rows deleted in all. */
async function drain(deleteBatch: () => Promise<number>, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteBatch();
    total += n;
    if (n < batch) return total;
  }
}

/** Deletes everything past its retention, in batches; the rows deleted per table. */
export async function deleteExpiredHistory(db: Db, settings: RetentionSettings): Promise<Deleted> {
  const now = settings.now ?? new Date();
  const batch = settings.batch ?? RETENTION_BATCH;
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const presenceBefore = ago(settings.presenceRetentionDays * DAY_MS);
  return {
    presenceEvents: await drain(() => deletePresenceEvents(db, { before: presenceBefore, batch }), batch),
    deviceSessions: await drain(() => deleteEndedDeviceSessions(db, { before: presenceBefore, batch }), batch),
    auditLog: await drain(() => deleteAuditLog(db, { before: ago(settings.auditRetentionDays * DAY_MS), batch }), batch),
    // A sign-in that ran out is ended as the presence sweep ends it (which it does within seconds;
    // this is the backstop): its agent's devices are signed out and its sockets closed, not just
    // its row deleted. It is judged by the database's clock, like every sign-in check.
    authSessions: await expireSignIns(db, { idleMs: settings.authSessionIdleMs }),
    loginThrottle: await drain(
      () => deleteSpentLoginThrottles(db, { now, windowBefore: ago(settings.loginThrottleWindowMs), batch }),
      batch,
    ),
  };
}

type RetentionEnv = Pick<Env, 'PRESENCE_RETENTION_DAYS' | 'AUDIT_RETENTION_DAYS' | 'AUTH_SESSION_IDLE_MS' | 'LOGIN_THROTTLE_WINDOW_MS'>;

/** Schedules the hourly deletion (once for the whole cluster) and runs this node's worker for it. */
export async function startRetention(deps: {
  boss: PgBoss;
  db: Db;
  env: RetentionEnv;
  log: Logger;
}): Promise<{ runNow: () => Promise<string | null>; stop: () => Promise<void> }> {
  const { boss, db, env, log } = deps;
  await boss.createQueue(RETENTION_QUEUE, {
    policy: 'exclusive',
    expireInSeconds: 3600,
    retryLimit: 0, // the next hour's run is the retry
    retentionSeconds: 3600,
    deleteAfterSeconds: 7 * 86_400,
  });
  // A job sent by the hourly schedule waits at most a minute for a worker's poll.
  const workerId = await boss.work(RETENTION_QUEUE, { pollingIntervalSeconds: 60 }, async () => {
    try {
      const deleted = await deleteExpiredHistory(db, {
        presenceRetentionDays: env.PRESENCE_RETENTION_DAYS,
        auditRetentionDays: env.AUDIT_RETENTION_DAYS,
        authSessionIdleMs: env.AUTH_SESSION_IDLE_MS,
        loginThrottleWindowMs: env.LOGIN_THROTTLE_WINDOW_MS,
      });
      if (Object.values(deleted).some((n) => n > 0)) log.info('retention deleted expired history', deleted);
      return deleted; // kept as the job's output
    } catch (error) {
      log.error('retention failed; it runs again next hour', { error });
      throw error;
    }
  });
  // An upsert keyed by the queue's name: every node writes the same row.
  await boss.schedule(RETENTION_QUEUE, RETENTION_CRON, null, { tz: 'UTC' });
  return {
    /** Runs the deletion now, on this node (unless a run is queued or active already); the job's id, or null. */
    runNow: async () => {
      const id = await boss.send(RETENTION_QUEUE, {});
      if (id) boss.notifyWorker(workerId);
      return id;
    },
    stop: () => boss.offWork(RETENTION_QUEUE),
  };
}
