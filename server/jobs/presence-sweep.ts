// Schedules the presence sweep through pg-boss so that exactly one node runs it
// at a time: every node offers a job each interval into an `exclusive` queue
// (one queued or active job at most, so the others' offers are refused), and
// whichever node's worker takes it runs the sweep. pg-boss cron is
// minute-grained, too coarse for leases of seconds, hence the offers.
import type { PgBoss } from 'pg-boss';
import type { Db } from '../../db/client';
import type { Timing } from '../env';
import type { Logger } from '../log';
import { sweepPresence } from '../presence/sweep';

export const PRESENCE_SWEEP_QUEUE = 'presence-sweep';

export async function startPresenceSweep(deps: {
  boss: PgBoss;
  db: Db;
  timing: Timing;
  log: Logger;
}): Promise<{ stop: () => Promise<void> }> {
  const { boss, db, timing, log } = deps;
  await boss.createQueue(PRESENCE_SWEEP_QUEUE, { policy: 'exclusive', retentionSeconds: 3600, deleteAfterSeconds: 600 });
  // The node whose offer is taken wakes its own worker at once (notifyWorker);
  // polling is only the backstop, so it need not be frequent.
  const workerId = await boss.work(PRESENCE_SWEEP_QUEUE, { pollingIntervalSeconds: 2 }, async () => {
    const result = await sweepPresence(db, timing);
    if (result.timedOut || result.nodeLost) log.info('presence sweep ended sessions', result);
  });
  const offer = async () => {
    try {
      const id = await boss.send(PRESENCE_SWEEP_QUEUE, {});
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
