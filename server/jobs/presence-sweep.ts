// Schedules the presence sweep through pg-boss. Every node offers a job each
// interval with a throttle key, so pg-boss keeps one job per time slot however
// many nodes offer; whichever node's worker takes it runs the sweep. A session
// advisory lock around the sweep keeps it to one node at a time even when a
// slow sweep overlaps the next slot; a node that dies mid-sweep loses its
// connection and with it the lock, and the next slot's job runs elsewhere.
// (pg-boss cron is minute-grained, too coarse for leases of seconds.)
import type { PgBoss } from 'pg-boss';
import type { Db, Sql } from '../../db/client';
import type { Timing } from '../env';
import type { Logger } from '../log';
import { expireSignIns } from '../auth/service';
import { sweepPresence } from '../presence/sweep';

export const PRESENCE_SWEEP_QUEUE = 'presence-sweep';
const SWEEP_LOCK = 7_204_115; // arbitrary, unique to this purpose

export async function startPresenceSweep(deps: {
  boss: PgBoss;
  sql: Sql;
  db: Db;
  timing: Timing;
  /** Browser sign-ins unused this long end here too (AUTH_SESSION_IDLE_MS), with their devices and sockets. */
  signInIdleMs: number;
  log: Logger;
}): Promise<{ stop: () => Promise<void> }> {
  const { boss, sql, db, timing, log } = deps;
  await boss.createQueue(PRESENCE_SWEEP_QUEUE, {
    policy: 'standard',
    expireInSeconds: 60,
    retryLimit: 0,
    retentionSeconds: 3600,
    deleteAfterSeconds: 600,
  });

  const sweepOnce = async () => {
    const connection = await sql.reserve();
    try {
      const [lock] = await connection`select pg_try_advisory_lock(${SWEEP_LOCK}) as ok`;
      if (!lock?.ok) return; // another node is sweeping right now
      try {
        const result = await sweepPresence(db, timing);
        if (result.timedOut || result.nodeLost) log.info('presence sweep ended sessions', result);
        const signIns = await expireSignIns(db, { idleMs: deps.signInIdleMs });
        if (signIns) log.info('browser sign-ins expired', { signIns });
      } finally {
        await connection`select pg_advisory_unlock(${SWEEP_LOCK})`;
      }
    } finally {
      connection.release();
    }
  };
  // The node whose offer is taken wakes its own worker at once (notifyWorker);
  // polling is only the backstop, for offers taken by nodes that then died.
  const workerId = await boss.work(PRESENCE_SWEEP_QUEUE, { pollingIntervalSeconds: 2 }, sweepOnce);

  const slotSeconds = Math.max(1, Math.round(timing.NODE_HEARTBEAT_MS / 1000));
  const offer = async () => {
    try {
      const id = await boss.send(PRESENCE_SWEEP_QUEUE, {}, { singletonKey: 'sweep', singletonSeconds: slotSeconds });
      if (id) boss.notifyWorker(workerId); // run it now rather than at the next poll
    } catch (error) {
      log.error('offering the presence sweep failed', { error });
    }
  };
  // The sweep runs about as often as nodes renew their rows.
  const timer = setInterval(() => void offer(), timing.NODE_HEARTBEAT_MS);
  timer.unref();
  await offer();
  return {
    stop: async () => {
      clearInterval(timer);
      await boss.offWork(PRESENCE_SWEEP_QUEUE);
    },
  };
}
