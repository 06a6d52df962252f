'use client';
// People, for admins: the list (role, teams, skills, capacity overrides,
// state), creating a user, and for one user at a time: name and role,
// deactivation, a new password, team memberships, and — for agents — skills
// and capacity. A role change, a deactivation or a new password ends every
// sign-in of that user on the server; the page says so before asking.
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
type Role = User['role'];

const ROLES: ReadonlyArray<[Role, string]> = [
  ['agent', 'Agent'],
  ['supervisor', 'Supervisor'],
  ['admin', 'Admin'],
];
const CHANNELS = ['chat', 'email', 'phone', 'task'] as const;
const MIN_PASSWORD = 10;

const roleLabel = (role: Role) => ROLES.find(([r]) => r === role)?.[1] ?? role;
const capacityText = (capacity: User['capacity']) =>
  CHANNELS.filter((c) => capacity[c] !== undefined)
    .map((c) => `${c} ${capacity[c]}`)
    .join(', ') || 'queue defaults';

/** What a page action reports: an error (role=alert) or what was done (role=status). */
type Report = { error?: string; done?: string };

function CreateUser({ teams, onCreated, report }: { teams: Team[]; onCreated: (user: User) => void; report: (r: Report) => void }) {
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    setBusy(true);
    try {
      const user = await trpc().admin.users.create.mutate({
        email: String(form.get('email')).trim(),
        name: String(form.get('name')).trim(),
        role: String(form.get('role')) as Role,
        password: String(form.get('password')),
        teamIds: form.getAll('teamIds').map(String),
      });
      formElement.reset();
      report({ done: `Created ${user.name} (${user.email}).` });
      onCreated(user);
    } catch (err) {
      report({ error: messageOf(err, 'The user was not created') });
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className={`card ${styles.form}`} onSubmit={submit} aria-labelledby="create-user">
      <h2 id="create-user">Create a user</h2>
      <div className={styles.row}>
        <label>
          Email
          <input name="email" type="email" required maxLength={320} autoComplete="off" />
        </label>
        <label>
          Name
          <input name="name" required maxLength={100} autoComplete="off" />
        </label>
      </div>
      <div className={styles.row}>
        <label>
          Role
          <select name="role" defaultValue="agent">
            {ROLES.map(([role, label]) => (
              <option key={role} value={role}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Password
          <input name="password" type="password" required minLength={MIN_PASSWORD} maxLength={1024} autoComplete="new-password" />
        </label>
      </div>
      {teams.length > 0 && (
        <fieldset className={styles.checks}>
          <legend>Teams</legend>
          {teams.map((team) => (
            <label key={team.id} className={styles.check}>
              <input type="checkbox" name="teamIds" value={team.id} /> {team.name}
            </label>
          ))}
        </fieldset>
      )}
      <button type="submit" disabled={busy}>
        Create user
      </button>
    </form>
  );
}

/** Everything about one user that an admin may change. */
function EditUser({
  user,
  self,
  teams,
  run,
  onClose,
}: {
  user: User;
  self: boolean;
  teams: Team[];
  run: (action: () => Promise<unknown>, done: string, failed: string) => Promise<boolean>;
  onClose: () => void;
}) {
  const [name, setName] = useState(user.name);
  const [role, setRole] = useState<Role>(user.role);
  const [skills, setSkills] = useState(user.skills.join(', '));
  const [capacity, setCapacity] = useState<Record<(typeof CHANNELS)[number], string>>(() => ({
    chat: String(user.capacity.chat ?? ''),
    email: String(user.capacity.email ?? ''),
    phone: String(user.capacity.phone ?? ''),
    task: String(user.capacity.task ?? ''),
  }));
  const memberOf = new Map(user.teams.map((t) => [t.id, t.role]));
  const ends = self ? 'You will be signed out.' : `${user.name} is signed out everywhere.`;

  function saveProfile(event: FormEvent) {
    event.preventDefault();
    if (role !== user.role && !window.confirm(`Make ${user.name} ${roleLabel(role).toLowerCase()}? ${ends}`)) return;
    void run(
      () => trpc().admin.users.update.mutate({ id: user.id, name: name.trim(), role }),
      `Saved ${name.trim()}.`,
      'The user was not saved',
    );
  }

  function toggleActive() {
    const deactivate = user.deactivatedAt === null;
    if (deactivate && !window.confirm(`Deactivate ${user.name}? ${ends} They cannot sign in until reactivated.`)) return;
    void run(
      () => trpc().admin.users.update.mutate({ id: user.id, deactivated: deactivate }),
      `${user.name} is ${deactivate ? 'deactivated' : 'active again'}.`,
      'The change was not made',
    );
  }

  async function resetPassword(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const password = String(new FormData(formElement).get('password'));
    if (!window.confirm(`Set a new password for ${user.name}? ${ends}`)) return;
    if (await run(() => trpc().admin.users.resetPassword.mutate({ id: user.id, password }), `New password set for ${user.name}.`, 'The password was not set')) {
      formElement.reset();
    }
  }

  function toggleTeam(team: Team, on: boolean) {
    void run(
      () => (on ? trpc().admin.members.set.mutate({ teamId: team.id, userId: user.id }) : trpc().admin.members.remove.mutate({ teamId: team.id, userId: user.id })),
      `${user.name} ${on ? 'joined' : 'left'} ${team.name}.`,
      'The membership was not changed',
    );
  }

  function saveSkills(event: FormEvent) {
    event.preventDefault();
    const list = skills.split(',').map((s) => s.trim()).filter(Boolean);
    void run(() => trpc().admin.skills.set.mutate({ agentId: user.id, skills: list }), `Skills of ${user.name} saved.`, 'The skills were not saved');
  }

  function saveCapacity(event: FormEvent) {
    event.preventDefault();
    const set: Partial<Record<(typeof CHANNELS)[number], number>> = {};
    for (const c of CHANNELS) if (capacity[c].trim() !== '') set[c] = Number(capacity[c]);
    void run(() => trpc().admin.capacity.set.mutate({ agentId: user.id, capacity: set }), `Capacity of ${user.name} saved.`, 'The capacity was not saved');
  }

  return (
    <section className={`card ${styles.panel}`} aria-labelledby="edit-user">
      <div className={styles.row}>
        <h2 id="edit-user">
          {user.name} <span className="muted">({user.email})</span>
        </h2>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>

      <form onSubmit={saveProfile} aria-label="Name and role">
        <div className={styles.row}>
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map(([r, label]) => (
                <option key={r} value={r}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Save</button>
        </div>
      </form>

      <div className={styles.actions}>
        <button type="button" className="secondary" onClick={toggleActive}>
          {user.deactivatedAt === null ? 'Deactivate' : 'Reactivate'}
        </button>
      </div>

      <form onSubmit={(e) => void resetPassword(e)} aria-label="New password">
        <div className={styles.row}>
          <label>
            New password
            <input name="password" type="password" required minLength={MIN_PASSWORD} maxLength={1024} autoComplete="new-password" />
          </label>
          <button type="submit" className="secondary">
            Set password
          </button>
        </div>
      </form>

      <fieldset className={styles.checks}>
        <legend>Teams ({user.role === 'agent' ? 'as an agent' : 'as a supervisor'})</legend>
        {teams.length === 0 && <span>No teams yet.</span>}
        {teams.map((team) => (
          <label key={team.id} className={styles.check}>
            <input type="checkbox" checked={memberOf.has(team.id)} onChange={(e) => toggleTeam(team, e.target.checked)} /> {team.name}
          </label>
        ))}
      </fieldset>

      {user.role === 'agent' && (
        <>
          <form onSubmit={saveSkills} aria-label="Skills">
            <div className={styles.row}>
              <label>
                Skills (comma-separated)
                <input value={skills} onChange={(e) => setSkills(e.target.value)} maxLength={2600} placeholder="e.g. de, vip" />
              </label>
              <button type="submit" className="secondary">
                Save skills
              </button>
            </div>
          </form>
          <form onSubmit={saveCapacity} aria-label="Capacity">
            <p className="muted">Open tickets per channel at most; blank uses each queue’s default.</p>
            <div className={styles.capacity}>
              {CHANNELS.map((c) => (
                <label key={c}>
                  {c[0]!.toUpperCase() + c.slice(1)}
                  <input
                    type="number"
                    min={0}
                    max={100}
                    step={1}
                    value={capacity[c]}
                    onChange={(e) => setCapacity((prev) => ({ ...prev, [c]: e.target.value }))}
                  />
                </label>
              ))}
            </div>
            <div className={styles.actions}>
              <button type="submit" className="secondary">
                Save capacity
              </button>
            </div>
          </form>
        </>
      )}
    </section>
  );
}

export default function UsersPage() {
  const me = useSessionUser(['admin']);
  const [users, setUsers] = useState<User[]>();
  const [teams, setTeams] = useState<Team[]>([]);
  const [report, setReport] = useState<Report>({});
  const [editing, setEditing] = useState<string>();

  const load = useCallback(
    () =>
      Promise.all([trpc().admin.users.list.query(), trpc().admin.teams.list.query()]).then(
        ([u, t]) => {
          setUsers(u);
          setTeams(t);
        },
        (err: unknown) => setReport({ error: messageOf(err, 'The users could not be read') }),
      ),
    [],
  );
  useEffect(() => {
    if (me) void load();
  }, [me, load]);

  const run = useCallback(
    async (action: () => Promise<unknown>, done: string, failed: string) => {
      setReport({});
      try {
        await action();
        setReport({ done });
        return true;
      } catch (err) {
        setReport({ error: messageOf(err, failed) });
        return false;
      } finally {
        await load();
      }
    },
    [load],
  );

  if (!me) return <main aria-busy="true" />;
  const selected = users?.find((u) => u.id === editing);
  return (
    <main>
      <AdminHeader title="Users" userName={me.name} />
      <CreateUser teams={teams} report={setReport} onCreated={() => void load()} />
      {report.error && (
        <p role="alert" className="error">
          {report.error}
        </p>
      )}
      {report.done && (
        <p role="status" className="muted">
          {report.done}
        </p>
      )}
      {selected && <EditUser key={selected.id + selected.role} user={selected} self={selected.id === me.id} teams={teams} run={run} onClose={() => setEditing(undefined)} />}
      <h2 id="users">Users</h2>
      {!users ? (
        <p className="muted">Loading…</p>
      ) : (
        <table aria-labelledby="users">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Teams</th>
              <th scope="col">Skills</th>
              <th scope="col">Capacity</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className={styles.hidden}>Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} aria-label={u.name}>
                <th scope="row">{u.name}</th>
                <td>{u.email}</td>
                <td>{roleLabel(u.role)}</td>
                <td>{u.teams.map((t) => (u.role === 'agent' || t.role === 'agent' ? t.name : `${t.name} (supervises)`)).join(', ') || '—'}</td>
                <td>{u.role === 'agent' ? u.skills.join(', ') || '—' : ''}</td>
                <td>{u.role === 'agent' ? capacityText(u.capacity) : ''}</td>
                <td data-state={u.deactivatedAt ? 'deactivated' : 'active'} className={u.deactivatedAt ? styles.deactivated : undefined}>{u.deactivatedAt ? 'Deactivated' : 'Active'}</td>
                <td>
                  <button className="secondary" onClick={() => setEditing(u.id)} aria-label={`Edit ${u.name}`}>
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
