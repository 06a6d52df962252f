'use client';
// One ticket, for supervisors of its queue's team and admins (tickets.get with
// the session): its fields, where it is now and with whom, and its history —
// each offer with the routing's explanation: the strategy, why the winner won,
// the team counted by verdict, and the agents it listed with their verdicts.
// Read again every few seconds while the ticket is open (there is no live
// feed of one ticket for supervisors), and on Refresh.
import type { inferRouterOutputs } from '@trpc/server';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useEffect, useState } from 'react';
import type { AppRouter } from '@/server/trpc/router';
import type { Explanation } from '@/server/routing/store';
import { duration } from '../../lib/format';
import { trpc } from '../../lib/trpc';
import { useNow } from '../../lib/use-now';
import { signOut, useSessionUser } from '../../lib/use-session-user';
import styles from './ticket.module.css';

type Ticket = inferRouterOutputs<AppRouter>['tickets']['get'];
type TicketEvent = Ticket['events'][number];
/** An explanation as tickets.get returns it: the listed agents named. */
type NamedExplanation = Omit<Explanation, 'considered'> & {
  considered: Array<Explanation['considered'][number] & { name: string | null }>;
  winnerName: string | null;
};

/** While a ticket is open, how often the page reads it again. */
const OPEN_TICKET_REFRESH_MS = 5_000;
const OPEN_STATES: ReadonlySet<Ticket['state']> = new Set(['queued', 'offered', 'assigned']);

const STATE_LABEL: Record<Ticket['state'], string> = {
  queued: 'Queued',
  offered: 'Offered',
  assigned: 'Assigned',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

const EVENT_LABEL: Record<string, string> = {
  created: 'Created',
  offered: 'Offered',
  accepted: 'Accepted',
  declined: 'Declined',
  offer_expired: 'Offer expired',
  requeued: 'Back in the queue',
  released: 'Released',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

const EVENT_REASON: Record<string, string> = {
  offer_timeout: 'no answer in time',
  auto_accept: 'the queue accepts for its agents',
  agent_away: 'held by an agent away too long',
  agent_offline: 'held by an agent offline too long',
};

const STRATEGY_LABEL: Record<Explanation['strategy'], string> = { least_loaded: 'least loaded', round_robin: 'round robin' };

const VERDICT_LABEL: Record<keyof Explanation['counts'], string> = {
  eligible: 'eligible',
  not_available: 'not available',
  at_capacity: 'at capacity',
  missing_skill: 'missing a skill',
};

/** The stored explanation, if it has the shape this page knows (older rows may not). */
function explanationOf(event: TicketEvent): NamedExplanation | undefined {
  const e = event.explanation as Partial<NamedExplanation> | null;
  return e && Array.isArray(e.considered) && e.counts && typeof e.why === 'string' ? (e as NamedExplanation) : undefined;
}

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

function ExplanationView({ explanation: e, event }: { explanation: NamedExplanation; event: TicketEvent }) {
  const at = Date.parse(event.at);
  return (
    <div className={styles.explanation}>
      <p aria-label="Why">
        <span className="muted">Strategy {STRATEGY_LABEL[e.strategy]}:</span> {e.winnerName ?? 'no one'}, {e.why}.
      </p>
      <p className={styles.counts} aria-label="Agents by verdict">
        {(Object.keys(VERDICT_LABEL) as Array<keyof Explanation['counts']>).map((v) => (
          <span key={v}>
            {VERDICT_LABEL[v]}: {e.counts[v]}
          </span>
        ))}
      </p>
      {e.considered.length > 0 && (
        <table aria-label={`Candidates of event ${event.id}`} className={styles.candidates}>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Verdict</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {e.considered.map((c) => (
              <tr key={c.agentId} aria-label={c.name ?? c.agentId} data-winner={c.agentId === e.winner || undefined}>
                <th scope="row">
                  {c.name ?? <code>{c.agentId}</code>}
                  {c.agentId === e.winner && <span className="muted"> (offered)</span>}
                </th>
                <td>{c.eligible ? 'eligible' : VERDICT_LABEL[c.reason]}</td>
                <td>
                  {c.eligible
                    ? `${c.spare} spare; ${c.lastOfferedAt === null ? 'not offered a ticket before' : `last offered one ${duration(at - c.lastOfferedAt)} before`}${c.passedOn ? '; passed on this ticket before, so tried last' : ''}`
                    : c.detail}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {e.unlisted > 0 && <p className="muted">…and {e.unlisted} more agents considered, not listed.</p>}
    </div>
  );
}

function EventItem({ event }: { event: TicketEvent }) {
  const explanation = explanationOf(event);
  const reason = event.reason ? (EVENT_REASON[event.reason] ?? event.reason) : undefined;
  return (
    <li aria-label={`${EVENT_LABEL[event.type] ?? event.type} at ${when(event.at)}`}>
      <time dateTime={event.at} className="muted">
        {when(event.at)}
      </time>{' '}
      <strong>{EVENT_LABEL[event.type] ?? event.type}</strong>
      {event.agent && ` · ${event.agent.name}`}
      {reason && <span className="muted"> ({reason})</span>}
      {explanation && <ExplanationView explanation={explanation} event={event} />}
    </li>
  );
}

function Fields({ ticket }: { ticket: Ticket }) {
  const now = useNow();
  const metadata = Object.keys(ticket.metadata).length ? JSON.stringify(ticket.metadata, null, 2) : undefined;
  // A ticket that left its agent (completed, released, expired) no longer names one; its history does.
  const lastAgent = ticket.events.findLast((e) => e.agent)?.agent;
  return (
    <dl className={styles.fields}>
      <dt>State</dt>
      <dd>
        <span className={`badge ${styles.state}`} data-state={ticket.state} aria-label="State">
          {STATE_LABEL[ticket.state]}
        </span>
        {ticket.state === 'queued' && ticket.waitReason && <span className="muted"> ({ticket.waitReason})</span>}
        {ticket.state === 'offered' && ticket.offerExpiresAt && (
          <span className="muted"> (answer due in {duration(Math.max(0, Date.parse(ticket.offerExpiresAt) - now))})</span>
        )}
      </dd>
      <dt>Agent</dt>
      <dd aria-label="Agent">
        {ticket.agent?.name ?? (lastAgent ? <span className="muted">none now (last {lastAgent.name})</span> : '—')}
      </dd>
      <dt>Queue</dt>
      <dd>{ticket.queue}</dd>
      <dt>Channel</dt>
      <dd>{ticket.channel}</dd>
      <dt>Priority</dt>
      <dd title="1 is the most urgent">{ticket.priority}</dd>
      <dt>Skills</dt>
      <dd>{ticket.skills.length ? ticket.skills.join(', ') : '—'}</dd>
      <dt>External id</dt>
      <dd>
        <code>{ticket.externalId}</code>
      </dd>
      <dt>Link</dt>
      <dd>
        {ticket.url ? (
          <a href={ticket.url} target="_blank" rel="noopener noreferrer">
            {ticket.url}
          </a>
        ) : (
          '—'
        )}
      </dd>
      <dt>Created</dt>
      <dd>{when(ticket.createdAt)}</dd>
      <dt>Accepted</dt>
      <dd>{when(ticket.acceptedAt)}</dd>
      <dt>Ended</dt>
      <dd>{when(ticket.endedAt)}</dd>
      {metadata && (
        <>
          <dt>Metadata</dt>
          <dd>
            <pre className={styles.metadata}>{metadata}</pre>
          </dd>
        </>
      )}
    </dl>
  );
}

export default function TicketPage() {
  const user = useSessionUser(['supervisor', 'admin']);
  const { id } = useParams<{ id: string }>();
  const [ticket, setTicket] = useState<Ticket>();
  const [error, setError] = useState<string>();
  const [reads, setReads] = useState(0);

  useEffect(() => {
    if (!user) return;
    // Only the answer to the latest read counts; an earlier one may land later.
    let current = true;
    trpc()
      .tickets.get.query({ id })
      .then(
        (t) => {
          if (!current) return;
          setTicket(t);
          setError(undefined);
        },
        (err: { message: string; data?: { code?: string } }) => {
          if (!current) return;
          const code = err.data?.code;
          setError(
            code === 'NOT_FOUND'
              ? 'No such ticket in the queues you can see.'
              : code === 'BAD_REQUEST'
                ? `“${id}” is not a ticket id.`
                : `Could not read the ticket: ${err.message}`,
          );
        },
      );
    return () => {
      current = false;
    };
  }, [user, id, reads]);

  const open = ticket ? OPEN_STATES.has(ticket.state) : false;
  useEffect(() => {
    if (!open) return;
    const timer = setInterval(() => setReads((n) => n + 1), OPEN_TICKET_REFRESH_MS);
    return () => clearInterval(timer);
  }, [open]);

  if (!user) return <main aria-busy="true" />;
  return (
    <main>
      <header className="bar">
        <h1>{ticket ? ticket.subject : 'Ticket'}</h1>
        <Link href="/roster">Roster</Link>
        <button className="secondary" onClick={() => setReads((n) => n + 1)}>
          Refresh
        </button>
        <button className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {ticket && (
        <>
          <section className="card" aria-label="Ticket">
            <Fields ticket={ticket} />
          </section>
          <section aria-labelledby="history">
            <h2 id="history">History</h2>
            <ol className={`card ${styles.events}`} aria-label="History">
              {ticket.events.map((e) => (
                <EventItem key={e.id} event={e} />
              ))}
            </ol>
          </section>
        </>
      )}
    </main>
  );
}
