'use client';
// The audit log, for admins: what supervisors, admins and the command line
// did (forced statuses, keys, webhooks, people, teams, memberships, skills,
// capacity), newest first, filtered by action, a page at a time.
import type { inferRouterOutputs } from '@trpc/server';
import { useCallback, useEffect, useState } from 'react';
import { AUDIT_ACTIONS, type AuditAction } from '@/server/audit/actions';
import type { AppRouter } from '@/server/trpc/router';
import { trpc } from '../../lib/trpc';
import { useSessionUser } from '../../lib/use-session-user';
import { AdminHeader, messageOf } from '../admin-nav';
import styles from '../admin.module.css';

type Entry = inferRouterOutputs<AppRouter>['admin']['audit']['list']['entries'][number];

const PAGE = 50;

/** The details as `key: value` pairs, nested values as JSON. */
function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('; ');
}

export default function AuditPage() {
  const me = useSessionUser(['admin']);
  const [action, setAction] = useState<AuditAction | ''>('');
  const [entries, setEntries] = useState<Entry[]>();
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  /** Reads a page: the first (before undefined) replaces the list, a later one is appended. */
  const read = useCallback(
    async (before?: number) => {
      setBusy(true);
      setError(undefined);
      try {
        const page = await trpc().admin.audit.list.query({ limit: PAGE, before, action: action || undefined });
        setEntries((prev) => (before === undefined ? page.entries : [...(prev ?? []), ...page.entries]));
        setNextBefore(page.nextBefore);
      } catch (err) {
        setError(messageOf(err, 'The audit log could not be read'));
      } finally {
        setBusy(false);
      }
    },
    [action],
  );
  useEffect(() => {
    if (me) void read();
  }, [me, read]);

  if (!me) return <main aria-busy="true" />;
  return (
    <main>
      <AdminHeader title="Audit log" userName={me.name} />
      <div className="counts">
        <label>
          Action
          <select value={action} onChange={(e) => setAction(e.target.value as AuditAction | '')}>
            <option value="">All actions</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={() => void read()} disabled={busy}>
          Refresh
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <h2 id="entries" className={styles.hidden}>
        Entries
      </h2>
      {!entries ? (
        <p className="muted">Loading…</p>
      ) : entries.length === 0 ? (
        <p className="muted">Nothing recorded{action ? ` for ${action}` : ''}.</p>
      ) : (
        <table aria-labelledby="entries">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Details</th>
              <th scope="col">Address</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} aria-label={`${e.action} by ${e.actor.label}`}>
                <td>
                  <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time>
                </td>
                <td>{e.actor.label}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.targetType}
                  {e.targetId ? <span className="muted"> {e.targetId}</span> : null}
                </td>
                <td className={styles.details}>{detailsText(e.details)}</td>
                <td>{e.address ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextBefore !== null && (
        <button type="button" className={`secondary ${styles.more}`} onClick={() => void read(nextBefore)} disabled={busy}>
          Load more
        </button>
      )}
    </main>
  );
}
