// /healthz and /readyz. /healthz says the process answers (a liveness probe:
// restart it if not). /readyz says whether this node can do its work now (a
// readiness probe: send it traffic or not), each part checked for real within
// two seconds: the database answers a statement; the LISTEN connection hears a
// notification this check sends itself (so fan-out works, not just a socket);
// pg-boss reaches its tables; and the node has not let go of its sessions for
// want of its database (decision 035).
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { PgBoss } from 'pg-boss';
import type { Db } from '../../db/client';
import type { PresenceEngine } from '../presence/engine';
import { controlChannel } from '../realtime/channels';
import type { Hub } from '../realtime/hub';

const CHECK_TIMEOUT_MS = 2_000;

export type Check = { ok: boolean; ms: number; error?: string };
export type Readiness = { ready: boolean; checks: Record<'database' | 'listen' | 'jobs' | 'node', Check> };

async function timed(work: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS))),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    // The reason, not the details: this answer is unauthenticated.
    const reason = error instanceof Error && error.message.startsWith('no answer') ? error.message : 'failed';
    return { ok: false, ms: Math.round(performance.now() - started), error: reason };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(deps: { db: Db; hub: Hub; boss: PgBoss; engine: PresenceEngine }): Promise<Readiness> {
  const { db, hub, boss, engine } = deps;
  const heard = () => {
    const ping = randomUUID();
    let stop: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      stop = hub.onControl((message) => message.k === 'ping' && message.p === ping && resolve());
    });
    return db
      .execute(controlChannel.notify({ k: 'ping', p: ping }))
      .then(() => arrived)
      .finally(() => stop());
  };
  const [database, listen, jobs] = await Promise.all([
    timed(() => db.execute(sql`select 1`)),
    timed(heard),
    timed(() => boss.getQueue('presence-sweep')),
  ]);
  const node: Check = engine.cutOff ? { ok: false, ms: 0, error: 'cut off from its database: it has let go of its sessions' } : { ok: true, ms: 0 };
  const checks = { database, listen, jobs, node };
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}
