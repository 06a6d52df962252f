'use client';
// "Work": the agent's offers, each counting down to its deadline, with Accept
// and Decline; and the tickets they hold, with Complete and Release. The list
// is work.watch's, replaced whole on every change, so a ticket answered here,
// in another tab or by the server (an offer that expired) simply leaves it.
// An answer the server refuses says why, naming the ticket: the list may
// already have moved on by then.
import { useEffect, useState } from 'react';
import type { TicketSummary } from '@/db/queries/tickets';
import { duration } from '../lib/format';
import { onSocket, socketIsOpen, trpc } from '../lib/trpc';
import { useNow } from '../lib/use-now';

type Action = 'accept' | 'decline' | 'complete' | 'release';

/** What a refused answer means to the agent; the server's own message follows it. */
function refusal(action: Action, ticket: TicketSummary, err: unknown): string {
  const code = (err as { data?: { code?: string } } | undefined)?.data?.code;
  const message = err instanceof Error ? err.message : String(err);
  const what = `Could not ${action} “${ticket.subject}”`;
  if (code === 'NOT_FOUND') {
    return action === 'accept' || action === 'decline'
      ? `${what}: the offer has expired or was withdrawn.`
      : `${what}: it is no longer yours (${message}).`;
  }
  if (code === 'CONFLICT') return `${what}: it changed meanwhile (${message}).`;
  return `${what}: ${message}`;
}

function TicketHeading({ ticket }: { ticket: TicketSummary }) {
  return (
    <>
      <strong>
        {ticket.url ? (
          <a href={ticket.url} target="_blank" rel="noopener noreferrer">
            {ticket.subject}
          </a>
        ) : (
          ticket.subject
        )}
      </strong>{' '}
      <span className="muted">
        {ticket.queue} · {ticket.channel} · <span title="1 is the most urgent">priority {ticket.priority}</span>
        {ticket.skills.length > 0 && ` · ${ticket.skills.join(', ')}`}
      </span>
    </>
  );
}

function Countdown({ until }: { until: string }) {
  const left = Date.parse(until) - useNow();
  return (
    <span className="countdown" aria-label="Time left" data-expired={left <= 0 || undefined}>
      {left > 0 ? `expires in ${duration(Math.ceil(left / 1000) * 1000)}` : 'expired'}
    </span>
  );
}

export function WorkCard() {
  const [tickets, setTickets] = useState<TicketSummary[]>();
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState<string>();
  // While the socket is down an answer would open a socket of its own, outside the reconnect backoff.
  const [open, setOpen] = useState(socketIsOpen);
  const now = useNow();

  useEffect(() => {
    const off = onSocket(setOpen);
    return () => void off();
  }, []);

  useEffect(() => {
    const sub = trpc().work.watch.subscribe(undefined, {
      onData: (data) => setTickets(data.tickets),
      onError: (err) => setError(err.message),
    });
    return () => sub.unsubscribe();
  }, []);

  async function act(action: Action, ticket: TicketSummary) {
    setError(undefined);
    setBusy((prev) => new Set(prev).add(ticket.id));
    try {
      await trpc().work[action].mutate({ ticketId: ticket.id });
    } catch (err) {
      setError(refusal(action, ticket, err));
    } finally {
      setBusy((prev) => {
        const next = new Set(prev);
        next.delete(ticket.id);
        return next;
      });
    }
  }

  const offers = tickets?.filter((t) => t.state === 'offered') ?? [];
  const held = tickets?.filter((t) => t.state === 'assigned') ?? [];
  return (
    <section className="card work" aria-labelledby="work" style={{ marginTop: 16 }}>
      <h2 id="work">Work</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <h3 id="offers">Offers</h3>
      {!tickets ? (
        <p className="muted">Loading…</p>
      ) : offers.length === 0 ? (
        <p className="muted">No offers right now. Offers come while you are available.</p>
      ) : (
        <ul className="devices" aria-labelledby="offers">
          {offers.map((t) => (
            <li key={t.id} aria-label={t.subject}>
              <TicketHeading ticket={t} /> {t.offerExpiresAt && <Countdown until={t.offerExpiresAt} />}{' '}
              <button onClick={() => void act('accept', t)} disabled={!open || busy.has(t.id)} aria-label={`Accept ${t.subject}`}>
                Accept
              </button>{' '}
              <button
                className="secondary"
                onClick={() => void act('decline', t)}
                disabled={!open || busy.has(t.id)}
                aria-label={`Decline ${t.subject}`}
              >
                Decline
              </button>
            </li>
          ))}
        </ul>
      )}
      <h3 id="my-tickets">My tickets</h3>
      {!tickets ? null : held.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul className="devices" aria-labelledby="my-tickets">
          {held.map((t) => (
            <li key={t.id} aria-label={t.subject}>
              <TicketHeading ticket={t} />{' '}
              {t.acceptedAt && <span className="muted">for {duration(now - Date.parse(t.acceptedAt))}</span>}{' '}
              <button onClick={() => void act('complete', t)} disabled={!open || busy.has(t.id)} aria-label={`Complete ${t.subject}`}>
                Complete
              </button>{' '}
              <button
                className="secondary"
                onClick={() => void act('release', t)}
                disabled={!open || busy.has(t.id)}
                aria-label={`Release ${t.subject}`}
                title="Give it back to its queue for someone else"
              >
                Release
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
