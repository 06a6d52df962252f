'use client';
// The queues of the supervisor's teams (every queue for an admin), live from
// queues.watch: tickets waiting and offered, the oldest wait (ticking between
// updates), agents available and routable, and the median time to accept.
// Its own state and memoised, so its updates (up to two a second) never
// re-render the agents table, and the table's never re-render it.
import { useRouter } from 'next/navigation';
import { memo, useEffect, useState, type FormEvent } from 'react';
import type { QueueStats } from '@/db/queries/tickets';
import { briefDuration } from '../lib/format';
import { trpc } from '../lib/trpc';
import styles from './roster.module.css';
import { useElapsed } from '../lib/use-now';

/** A queue as shown: its oldest wait as a moment, so that it ticks on between updates. */
type QueueView = QueueStats & { oldestSince: string | null };

const STRATEGY_LABEL: Record<QueueStats['strategy'], string> = { least_loaded: 'least loaded', round_robin: 'round robin' };
const MODE_LABEL: Record<QueueStats['offerMode'], string> = { offer: 'offers', auto_accept: 'auto-accept' };

function OldestWait({ since }: { since: string | null }) {
  return <>{useElapsed(since)}</>;
}

function useQueues(): { queues: QueueView[] | undefined; error: string | undefined } {
  const [queues, setQueues] = useState<QueueView[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    const sub = trpc().queues.watch.subscribe(undefined, {
      onData: (data) => {
        const at = Date.now();
        setError(undefined);
        setQueues(
          data.queues.map((q) => ({ ...q, oldestSince: q.depth > 0 ? new Date(at - q.oldestWaitMs).toISOString() : null })),
        );
      },
      onError: (err) => setError(err.message),
    });
    return () => sub.unsubscribe();
  }, []);
  return { queues, error };
}

/** Opens a ticket's page by its id (there is no list of tickets for supervisors yet). */
function OpenTicket() {
  const router = useRouter();
  const [id, setId] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (id.trim()) router.push(`/tickets/${encodeURIComponent(id.trim())}`);
  };
  return (
    <form className={styles.openTicket} onSubmit={submit} aria-label="Open a ticket">
      <input value={id} onChange={(e) => setId(e.target.value)} placeholder="Ticket id" aria-label="Ticket id" />
      <button type="submit" className="secondary">
        Open ticket
      </button>
    </form>
  );
}

export const QueuePanel = memo(function QueuePanel() {
  const { queues, error } = useQueues();
  return (
    <section aria-labelledby="queues" className={styles.queues}>
      <div className={styles.queuesHead}>
        <h2 id="queues">Queues</h2>
        <OpenTicket />
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!queues ? (
        <p className="muted">Loading…</p>
      ) : queues.length === 0 ? (
        <p className="muted">No queues for your teams.</p>
      ) : (
        <table aria-labelledby="queues">
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Team</th>
              <th scope="col">Waiting</th>
              <th scope="col">Offered</th>
              <th scope="col">Oldest wait</th>
              <th scope="col" title="Available now / available with spare capacity">
                Agents available / routable
              </th>
              <th scope="col" title="Median over the last 100 accepted tickets, from creation to acceptance">
                Median time to accept
              </th>
            </tr>
          </thead>
          <tbody>
            {queues.map((q) => (
              <tr key={q.queueId} aria-label={q.name}>
                <th scope="row">
                  {q.name}{' '}
                  <span className="muted">
                    ({STRATEGY_LABEL[q.strategy]}, {MODE_LABEL[q.offerMode]})
                  </span>
                </th>
                <td>{q.team}</td>
                <td aria-label="Waiting">{q.depth}</td>
                <td aria-label="Offered">{q.offered}</td>
                <td aria-label="Oldest wait">
                  <OldestWait since={q.oldestSince} />
                </td>
                <td aria-label="Agents available / routable">
                  {q.agentsAvailable} / {q.agentsRoutable}
                </td>
                <td aria-label="Median time to accept">{briefDuration(q.medianTimeToAcceptMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
});
