'use client';
// API keys of the integrations (ticketing systems), for admins: the list,
// creating a key — whose plaintext is shown here once, since only its hash is
// stored — and revoking one, which refuses its next request.
import type { inferRouterOutputs } from '@trpc/server';
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { Scope } from '@/server/auth/api-keys';
import type { AppRouter } from '@/server/trpc/router';
import { trpc } from '../../lib/trpc';
import { useSessionUser } from '../../lib/use-session-user';
import { AdminHeader } from '../admin-nav';
import styles from './keys.module.css';

type KeyInfo = inferRouterOutputs<AppRouter>['keys']['list'][number];
type Created = { name: string; integration: string; key: string };

/** Every scope with what it allows (a Record, so that a new scope cannot be left off the form). */
const SCOPE_HELP: Record<Scope, string> = {
  'tickets:write': 'create and cancel tickets',
  'tickets:read': 'read tickets, their events and queue statistics',
  'presence:read': 'read agents’ presence',
  'reports:read': 'read reports: each agent’s time in status, offers, tickets handled and waits',
  admin: 'every scope above',
};
const SCOPES = Object.keys(SCOPE_HELP) as Scope[];

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

function keyState(key: KeyInfo, now: number): string {
  if (key.revokedAt) return `Revoked ${new Date(key.revokedAt).toLocaleString()}`;
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return 'Expired';
  return 'Active';
}

/** The new key, once: copy it now, it cannot be shown again. */
function NewKey({ created, onDone }: { created: Created; onDone: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'select'>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('yes');
    } catch {
      // No clipboard (a page not served over https): select it for the user to copy.
      field.current?.select();
      setCopied('select');
    }
  };
  return (
    <section className={`card ${styles.created}`} aria-labelledby="new-key">
      <h2 id="new-key">
        New key “{created.name}” for {created.integration}
      </h2>
      <p role="alert" className={styles.warning}>
        Copy this key now: it is shown only once. Switchboard keeps only its hash, so it cannot show it again; if it is
        lost, create another and revoke this one.
      </p>
      <div className={styles.keyLine}>
        <input ref={field} readOnly value={created.key} aria-label="New API key" onFocus={(e) => e.target.select()} />
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      {copied && (
        <p className="muted" role="status">
          {copied === 'yes' ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C) to copy.'}
        </p>
      )}
      <button type="button" className="secondary" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

function CreateKey({ integrations, onCreated }: { integrations: readonly string[]; onCreated: (created: Created) => void }) {
  const [scopes, setScopes] = useState<ReadonlySet<Scope>>(new Set(['tickets:write', 'tickets:read']));
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const expires = String(form.get('expires') ?? '');
    const expiresAt = expires ? new Date(expires) : undefined;
    setError(undefined);
    if (scopes.size === 0) return setError('Choose at least one scope.');
    if (expiresAt && !(expiresAt.getTime() > Date.now())) return setError('The expiry must be in the future.');
    setBusy(true);
    try {
      const integration = String(form.get('integration')).trim();
      const name = String(form.get('name')).trim();
      const { key } = await trpc().keys.create.mutate({
        integration,
        name,
        scopes: SCOPES.filter((s) => scopes.has(s)),
        expiresAt: expiresAt?.toISOString(),
      });
      formElement.reset();
      onCreated({ integration, name, key });
    } catch (err) {
      setError(err instanceof Error ? err.message : 'The key was not created');
    } finally {
      setBusy(false);
    }
  }

  const toggle = (scope: Scope, on: boolean) =>
    setScopes((prev) => {
      const next = new Set(prev);
      if (on) next.add(scope);
      else next.delete(scope);
      return next;
    });

  return (
    <form className={`card ${styles.form}`} onSubmit={submit} aria-labelledby="create-key">
      <h2 id="create-key">Create a key</h2>
      <label>
        Integration
        <input name="integration" required maxLength={100} list="integrations" placeholder="e.g. helpdesk" />
        <datalist id="integrations">
          {integrations.map((name) => (
            <option key={name} value={name} />
          ))}
        </datalist>
      </label>
      <label>
        Key name
        <input name="name" required maxLength={100} placeholder="e.g. production" />
      </label>
      <fieldset className={styles.scopes}>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} className={styles.scope}>
            <input type="checkbox" checked={scopes.has(scope)} onChange={(e) => toggle(scope, e.target.checked)} />
            <code>{scope}</code> <span className="muted">{SCOPE_HELP[scope]}</span>
          </label>
        ))}
      </fieldset>
      <label>
        Expires (optional)
        <input name="expires" type="datetime-local" />
      </label>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Create key
      </button>
    </form>
  );
}

export default function KeysPage() {
  const user = useSessionUser(['admin']);
  const [keys, setKeys] = useState<KeyInfo[]>();
  const [created, setCreated] = useState<Created>();
  const [error, setError] = useState<string>();

  const load = useCallback(
    () =>
      trpc()
        .keys.list.query()
        .then(setKeys, (err: Error) => setError(err.message)),
    [],
  );
  useEffect(() => {
    if (user) void load();
  }, [user, load]);

  async function revoke(key: KeyInfo) {
    if (!window.confirm(`Revoke the key “${key.name}” of ${key.integration} (${key.prefix}…)? Its next request is refused.`)) return;
    setError(undefined);
    try {
      await trpc().keys.revoke.mutate({ id: key.id });
    } catch (err) {
      setError(err instanceof Error ? err.message : 'The key was not revoked');
    }
    await load();
  }

  if (!user) return <main aria-busy="true" />;
  const now = Date.now();
  const integrations = [...new Set(keys?.map((k) => k.integration))].sort();
  return (
    <main>
      <AdminHeader title="API keys" userName={user.name} />
      {created ? (
        <NewKey created={created} onDone={() => setCreated(undefined)} />
      ) : (
        <CreateKey
          integrations={integrations}
          onCreated={(c) => {
            setCreated(c);
            void load();
          }}
        />
      )}
      <h2 id="keys">Keys</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!keys ? (
        <p className="muted">Loading…</p>
      ) : keys.length === 0 ? (
        <p className="muted">No keys yet.</p>
      ) : (
        <table aria-labelledby="keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Integration</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className={styles.hidden}>Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => {
              const state = keyState(k, now);
              return (
                <tr key={k.id} aria-label={`${k.integration}: ${k.name}`} data-state={k.revokedAt ? 'revoked' : state.toLowerCase()}>
                  <th scope="row">{k.name}</th>
                  <td>{k.integration}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.scopes.join(', ')}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>{k.lastUsedAt ? when(k.lastUsedAt) : 'never'}</td>
                  <td>{k.expiresAt ? when(k.expiresAt) : 'never'}</td>
                  <td aria-label="State">{state}</td>
                  <td>
                    {!k.revokedAt && (
                      <button className="secondary" onClick={() => void revoke(k)} aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
