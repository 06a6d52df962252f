// The demo workspace, seeded into an empty database on first start
// (skipped with SEED=none). Demo-only logins: every password is `switchboard`.
import { sql } from 'drizzle-orm';
import type { Db } from './client';
import { countUsers, insertTeam, insertUser, type Role } from './queries/people';
import { insertQueue, setSkills } from './queries/queues';
import { hashPassword } from '../server/auth/password';

export const DEMO_PASSWORD = 'switchboard';

const AGENTS: Array<[string, 'Billing' | 'Technical', string[]]> = [
  ['Ada Brooks', 'Billing', ['de']],
  ['Ben Carter', 'Technical', ['de']],
  ['Chloe Diaz', 'Billing', ['vip']],
  ['Dev Patel', 'Technical', []],
  ['Elena Fischer', 'Billing', ['fr']],
  ['Farid Haddad', 'Technical', ['fr']],
  ['Grace Kim', 'Billing', []],
  ['Hugo Laurent', 'Technical', ['vip']],
];

const SEED_LOCK = 7_204_116; // arbitrary, unique to this purpose (the sweep's is 7_204_115)

export type DemoLogin = { email: string; name: string; role: Role; team?: string };

/** Seeds the demo workspace when the database has no users; returns the logins it created. */
export async function seedDemo(db: Db): Promise<DemoLogin[]> {
  if ((await countUsers(db)) > 0) return [];
  return db.transaction(async (tx) => {
    // Nodes started together on an empty database all find it empty: one seeds, the others wait
    // for it here, then find users and seed nothing (without the lock, the second failed its start).
    await tx.execute(sql`select pg_advisory_xact_lock(${SEED_LOCK})`);
    if ((await countUsers(tx)) > 0) return [];
    const billing = await insertTeam(tx, { name: 'Billing' });
    const technical = await insertTeam(tx, { name: 'Technical' });
    const teamIds = { Billing: billing.id, Technical: technical.id };
    const logins: DemoLogin[] = [];
    const add = async (login: DemoLogin, teams: string[]) => {
      const passwordHash = await hashPassword(DEMO_PASSWORD);
      const user = await insertUser(tx, { email: login.email, name: login.name, role: login.role, passwordHash, teamIds: teams });
      logins.push(login);
      return user;
    };
    await add({ email: 'admin@example.com', name: 'Avery Admin', role: 'admin' }, []);
    await add({ email: 'supervisor@example.com', name: 'Sam Supervisor', role: 'supervisor' }, [billing.id, technical.id]);
    for (const [i, [name, team, skills]] of AGENTS.entries()) {
      const agent = await add({ email: `agent${i + 1}@example.com`, name, role: 'agent', team }, [teamIds[team]]);
      await setSkills(tx, { agentId: agent.id, skills });
    }
    // One queue per team; tickets reach them through the API (keys: `npm run switchboard -- keys create`).
    await insertQueue(tx, { name: 'billing', teamId: billing.id, strategy: 'least_loaded', offerMode: 'offer' });
    await insertQueue(tx, { name: 'technical', teamId: technical.id, strategy: 'round_robin', offerMode: 'offer' });
    return logins;
  });
}
