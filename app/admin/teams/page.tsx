'use client';
// Teams, for admins: the list (agents, supervisors, queues), creating,
// renaming and deleting a team (refused, with the reason, while its queues
// hold tickets), and a team's members: who is in it, adding and removing.
import type { inferRouterOutputs } from '@trpc/server';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AppRouter } from '@/server/trpc/router';
import { trpc } from '../../lib/trpc';
import { useSessionUser } from '../../lib/use-session-user';
import { AdminHeader, messageOf } from '../admin-nav';
import styles from '../admin.module.css';

type Outputs = inferRouterOutputs<AppRouter>['admin'];
type User = Outputs['users']['list'][number];
type Team = Outputs['teams']['list'][number];

type Run = (action: () => Promise<unknown>, done: string, failed: string) => Promise<boolean>;

function Members({ team, users, run, onClose }: { team: Team; users: User[]; run: Run; onClose: () => void }) {
  const [name, setName] = useState(team.name);
  const [adding, setAdding] = useState('');
  const members = users.filter((u) => u.teams.some((t) => t.id === team.id));
  const others = users.filter((u) => !u.deactivatedAt && !u.teams.some((t) => t.id === team.id));

  function rename(event: FormEvent) {
    event.preventDefault();
    void run(() => trpc().admin.teams.rename.mutate({ id: team.id, name: name.trim() }), `Renamed to ${name.trim()}.`, 'The team was not renamed');
  }

  async function add(event: FormEvent) {
    event.preventDefault();
    const user = others.find((u) => u.id === adding);
    if (!user) return;
    if (await run(() => trpc().admin.members.set.mutate({ teamId: team.id, userId: user.id }), `${user.name} joined ${team.name}.`, 'The member was not added')) {
      setAdding('');
    }
  }

  return (
    <section className={`card ${styles.panel}`} aria-labelledby="team-panel">
      <div className={styles.row}>
        <h2 id="team-panel">{team.name}</h2>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <form onSubmit={rename} aria-label="Rename">
        <div className={styles.row}>
          <label>
            Team name
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
          </label>
          <button type="submit" className="secondary">
            Rename
          </button>
        </div>
      </form>
      <h3 id="members">Members</h3>
      {members.length === 0 ? (
        <p className="muted">No members yet.</p>
      ) : (
        <table aria-labelledby="members">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">In this team</th>
              <th scope="col">
                <span className={styles.hidden}>Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((u) => (
              <tr key={u.id} aria-label={u.name}>
                <th scope="row">{u.name}</th>
                <td>{u.email}</td>
                <td>{u.teams.find((t) => t.id === team.id)?.role === 'agent' ? 'Agent' : 'Supervisor'}</td>
                <td>
                  <button
                    className="secondary"
                    aria-label={`Remove ${u.name}`}
                    onClick={() =>
                      void run(
                        () => trpc().admin.members.remove.mutate({ teamId: team.id, userId: u.id }),
                        `${u.name} left ${team.name}.`,
                        'The member was not removed',
                      )
                    }
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={(e) => void add(e)} aria-label="Add a member">
        <div className={styles.row}>
          <label>
            User to add
            <select value={adding} onChange={(e) => setAdding(e.target.value)} required>
              <option value="">Choose a user…</option>
              {others.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name} ({u.role}, {u.email})
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Add</button>
        </div>
      </form>
    </section>
  );
}

export default function TeamsPage() {
  const me = useSessionUser(['admin']);
  const [teams, setTeams] = useState<Team[]>();
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [open, setOpen] = useState<string>();

  const load = useCallback(
    () =>
      Promise.all([trpc().admin.teams.list.query(), trpc().admin.users.list.query()]).then(
        ([t, u]) => {
          setTeams(t);
          setUsers(u);
        },
        (err: unknown) => setError(messageOf(err, 'The teams could not be read')),
      ),
    [],
  );
  useEffect(() => {
    if (me) void load();
  }, [me, load]);

  const run: Run = useCallback(
    async (action, doneText, failed) => {
      setError(undefined);
      setDone(undefined);
      try {
        await action();
        setDone(doneText);
        return true;
      } catch (err) {
        setError(messageOf(err, failed));
        return false;
      } finally {
        await load();
      }
    },
    [load],
  );

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const name = String(new FormData(formElement).get('name')).trim();
    if (await run(() => trpc().admin.teams.create.mutate({ name }), `Created ${name}.`, 'The team was not created')) formElement.reset();
  }

  function remove(team: Team) {
    if (!window.confirm(`Delete the team ${team.name}? Its memberships${team.queues.length ? ' and its queues' : ''} go with it.`)) return;
    if (open === team.id) setOpen(undefined);
    void run(() => trpc().admin.teams.delete.mutate({ id: team.id }), `Deleted ${team.name}.`, 'The team was not deleted');
  }

  if (!me) return <main aria-busy="true" />;
  const selected = teams?.find((t) => t.id === open);
  return (
    <main>
      <AdminHeader title="Teams" userName={me.name} />
      <form className={`card ${styles.form}`} onSubmit={(e) => void create(e)} aria-labelledby="create-team">
        <h2 id="create-team">Create a team</h2>
        <div className={styles.row}>
          <label>
            Name
            <input name="name" required maxLength={100} autoComplete="off" />
          </label>
          <button type="submit">Create team</button>
        </div>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {done && (
        <p role="status" className="muted">
          {done}
        </p>
      )}
      {selected && <Members key={selected.id} team={selected} users={users} run={run} onClose={() => setOpen(undefined)} />}
      <h2 id="teams">Teams</h2>
      {!teams ? (
        <p className="muted">Loading…</p>
      ) : teams.length === 0 ? (
        <p className="muted">No teams yet.</p>
      ) : (
        <table aria-labelledby="teams">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Agents</th>
              <th scope="col">Supervisors</th>
              <th scope="col">Queues</th>
              <th scope="col">
                <span className={styles.hidden}>Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {teams.map((t) => (
              <tr key={t.id} aria-label={t.name}>
                <th scope="row">{t.name}</th>
                <td>{t.agents}</td>
                <td>{t.supervisors}</td>
                <td>{t.queues.map((q) => q.name).join(', ') || '—'}</td>
                <td>
                  <div className={styles.actions}>
                    <button className="secondary" onClick={() => setOpen(t.id)} aria-label={`Members of ${t.name}`}>
                      Members
                    </button>
                    <button className="secondary" onClick={() => remove(t)} aria-label={`Delete ${t.name}`}>
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
