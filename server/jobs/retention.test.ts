// Integration: expired history is deleted, in batches, and nothing else — rows
// are backdated, not waited for; and the deletion is scheduled hourly through
// pg-boss, once however many nodes start it, and runs as a pg-boss job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventLogSpan, rosterSnapshot } from '../../db/queries/roster';
import { createLogger } from '../log';
import { createTestDatabase, seedTeam, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { startJobs, type Jobs } from './boss';
import { deleteExpiredHistory, RETENTION_CRON, RETENTION_QUEUE, startRetention } from './retention';

let t: TestDatabase;
let agentId: string;
let userId: string;
const NODE_ID = '00000000-0000-4000-8000-000000000001';
const DAY = 86_400_000;
const HOUR = 3_600_000;
const settings = { presenceRetentionDays: 90, auditRetentionDays: 365, authSessionIdleMs: 12 * HOUR, loginThrottleWindowMs: 15 * 60_000 };
const env = { PRESENCE_RETENTION_DAYS: 90, AUDIT_RETENTION_DAYS: 365, AUTH_SESSION_IDLE_MS: 12 * HOUR, LOGIN_THROTTLE_WINDOW_MS: 15 * 60_000 };
const log = createLogger({}, true);

beforeAll(async () => {
  t = await createTestDatabase();
  const team = await seedTeam(t.db, { team: 'Keep', agents: 1 });
  agentId = team.agents[0]!.id;
  userId = team.supervisor.id;
  await t.sql`insert into nodes (id, name, pid) values (${NODE_ID}, 'test', 1)`;
});
afterAll(async () => {
  await t?.drop();
});

const ago = (now: Date, ms: number) => new Date(now.getTime() - ms);
/** A time as a statement parameter (this client sends text). */
const ts = (time: Date | null) => time?.toISOString() ?? null;

/** Presence events at these times, committed one by one (ids are given at commit, in this order). */
async function presenceEvents(times: Date[]): Promise<void> {
  for (const at of times) {
    await t.sql`insert into presence_events (agent_id, version, status, previous_status, reason, since, devices, at)
                values (${agentId}, 1, 'away', 'available', 'manual', ${ts(at)}, 1, ${ts(at)})`;
  }
}

async function deviceSession(params: { connectedAt: Date; endedAt: Date | null }): Promise<void> {
  await t.sql`insert into device_sessions (agent_id, device_id, client_session_id, node_id, label, connected_at, last_seen_at, ended_at, end_reason)
              values (${agentId}, 'device', gen_random_uuid()::text, ${NODE_ID}, 'Chrome on Linux', ${ts(params.connectedAt)},
                      ${ts(params.endedAt ?? params.connectedAt)}, ${ts(params.endedAt)}, ${params.endedAt ? 'closed' : null})`;
}

const count = async (table: string) => Number((await t.sql`select count(*)::int as n from ${t.sql(table)}`)[0]?.n);

describe('deleteExpiredHistory', () => {
  it('deletes backdated history past each retention in batches, keeps the recent, the live and the current, and counts exactly', async () => {
    const now = new Date();
    const old = ago(now, 91 * DAY);
    const recent = ago(now, 89 * DAY);
    // 12 old events, 3 recent ones, then an old one committed after them: the log is cut only up to the first kept event.
    await presenceEvents([...Array<Date>(12).fill(old), recent, recent, recent, old]);
    for (let i = 0; i < 3; i++) await deviceSession({ connectedAt: ago(now, 92 * DAY), endedAt: old });
    await deviceSession({ connectedAt: ago(now, 92 * DAY), endedAt: recent });
    await deviceSession({ connectedAt: ago(now, 200 * DAY), endedAt: null }); // live, however old
    for (const at of [ago(now, 366 * DAY), ago(now, 366 * DAY), ago(now, 364 * DAY)]) {
      await t.sql`insert into audit_log (at, actor_label, action, target_type) values (${ts(at)}, 'cli', 'user.created', 'user')`;
    }
    const signIn = (id: string, expiresAt: Date, lastUsedAt: Date) =>
      t.sql`insert into auth_sessions (id, user_id, expires_at, last_used_at) values (${id}, ${userId}, ${ts(expiresAt)}, ${ts(lastUsedAt)})`;
    await signIn('expired', ago(now, 1_000), ago(now, HOUR));
    await signIn('idle', new Date(now.getTime() + DAY), ago(now, 13 * HOUR));
    await signIn('live', new Date(now.getTime() + DAY), ago(now, 11 * HOUR));
    const throttle = (key: string, windowStartedAt: Date, blockedUntil: Date | null) =>
      t.sql`insert into login_throttle (key, failures, window_started_at, blocked_until) values (${key}, 3, ${ts(windowStartedAt)}, ${ts(blockedUntil)})`;
    await throttle('account:spent@example.com', ago(now, 16 * 60_000), null);
    await throttle('account:unblocked@example.com', ago(now, 20 * 60_000), ago(now, 60_000));
    await throttle('account:blocked@example.com', ago(now, 20 * 60_000), new Date(now.getTime() + 60_000));
    await throttle('account:counting@example.com', ago(now, 5 * 60_000), null);
    const [firstRecent] = await t.sql`select min(id)::int as id from presence_events where at = ${ts(recent)}`;
    const presenceRows = await count('agent_presence');

    const deleted = await deleteExpiredHistory(t.db, { ...settings, now, batch: 5 });
    expect(deleted).toEqual({ presenceEvents: 12, deviceSessions: 3, auditLog: 2, authSessions: 2, loginThrottle: 2 });

    expect((await t.sql`select at from presence_events order by id`).map((r) => new Date(r.at as string).getTime())).toEqual(
      [recent, recent, recent, old].map((d) => d.getTime()),
    );
    // A resuming roster subscriber can replay every event after the oldest kept one.
    expect((await eventLogSpan(t.db)).oldest).toBe(firstRecent?.id);
    expect(await t.sql`select ended_at is null as live from device_sessions order by connected_at`).toEqual([{ live: true }, { live: false }]);
    expect(await t.sql`select id from auth_sessions`).toEqual([{ id: 'live' }]);
    expect((await t.sql`select key from login_throttle order by key`).map((r) => r.key)).toEqual([
      'account:blocked@example.com',
      'account:counting@example.com',
    ]);
    expect(await count('audit_log')).toBe(1);
    // The agent's current state is not history.
    expect(await count('agent_presence')).toBe(presenceRows);
    expect((await rosterSnapshot(t.db, { agentId })).rows).toHaveLength(1);

    expect(await deleteExpiredHistory(t.db, { ...settings, now, batch: 5 })).toEqual({
      presenceEvents: 0,
      deviceSessions: 0,
      auditLog: 0,
      authSessions: 0,
      loginThrottle: 0,
    });
  });
});

describe('startRetention', () => {
  let a: Jobs;
  let b: Jobs;
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('schedules one hourly job for every node that starts it, and the job deletes expired history', async () => {
    // Two nodes' pg-boss instances on one database.
    a = await startJobs({ databaseUrl: t.url, log });
    b = await startJobs({ databaseUrl: t.url, log });
    const retention = await startRetention({ boss: a.boss, db: t.db, env, log });
    await startRetention({ boss: b.boss, db: t.db, env, log });
    expect(await t.sql`select name, cron, timezone from pgboss.schedule`).toEqual([{ name: RETENTION_QUEUE, cron: RETENTION_CRON, timezone: 'UTC' }]);
    expect(RETENTION_CRON).toBe('17 * * * *');

    const now = new Date();
    await deviceSession({ connectedAt: ago(now, 101 * DAY), endedAt: ago(now, 100 * DAY) });
    const id = await retention.runNow();
    await expect.poll(async () => (await t.sql`select state from pgboss.job where id = ${id!}`)[0]?.state, { timeout: 10_000 }).toBe('completed');
    const [job] = await t.sql`select output from pgboss.job where id = ${id!}`;
    expect(job?.output).toEqual({ presenceEvents: 0, deviceSessions: 1, auditLog: 0, authSessions: 0, loginThrottle: 0 });
  });
});

describe('a running node', () => {
  it('schedules the retention job when it starts', async () => {
    const own = await createTestDatabase(); // no schedule in it before the node starts
    const node = await startTestNode(own.url);
    try {
      const schedules = await own.sql`select name, cron from pgboss.schedule`;
      expect(schedules.map((s) => ({ ...s }))).toEqual([{ name: RETENTION_QUEUE, cron: RETENTION_CRON }]);
    } finally {
      await node.stop();
      await own.drop();
    }
  });
});
