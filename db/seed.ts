// The demo workspace, seeded into an empty database on first start
// (skipped with SEED=none). Demo-only logins: every password is `switchboard`.
import type { Db } from './client';
import { countUsers, insertTeam, insertUser, type Role } from './queries/people';
import { hashPassword } from '../server/auth/password';

export const DEMO_PASSWORD = 'switchboard';

const AGENTS: Array<[string, 'Billing' | 'Technical']> = [
  ['Ada Brooks', 'Billing'],
  ['Ben Carter', 'Technical'],
  ['Chloe Diaz', 'Billing'],
  ['Dev Patel', 'Technical'],
  ['Elena Fischer', 'Billing'],
  ['Farid Haddad', 'Technical'],
  ['Grace Kim', 'Billing'],
  ['Hugo Laurent', 'Technical'],
];

export type DemoLogin = { email: string; name: string; role: Role; team?: string };

/** Seeds the demo workspace when the database has no users; returns the logins it created. */
export async function seedDemo(db: Db): Promise<DemoLogin[]> {
  if ((await countUsers(db)) > 0) return [];
  return db.transaction(async (tx) => {
    const billing = await insertTeam(tx, { name: 'Billing' });
    const technical = await insertTeam(tx, { name: 'Technical' });
    const teamIds = { Billing: billing.id, Technical: technical.id };
    const logins: DemoLogin[] = [];
    const add = async (login: DemoLogin, teams: string[]) => {
      const passwordHash = await hashPassword(DEMO_PASSWORD);
      await insertUser(tx, { email: login.email, name: login.name, role: login.role, passwordHash, teamIds: teams });
      logins.push(login);
    };
    await add({ email: 'admin@example.com', name: 'Avery Admin', role: 'admin' }, []);
    await add({ email: 'supervisor@example.com', name: 'Sam Supervisor', role: 'supervisor' }, [billing.id, technical.id]);
    for (const [i, [name, team]] of AGENTS.entries()) {
      await add({ email: `agent${i + 1}@example.com`, name, role: 'agent', team }, [teamIds[team]]);
    }
    return logins;
  });
}
