// The roster-UI benchmark's workspace, in bulk SQL: teams of agents (each with
// a presence row and a browser sign-in whose cookie token its device presents)
// and one admin, signed in too, whose browser opens /roster. Names are drawn
// from two lists so that sorting by name sorts real-looking strings.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { runMigrations } from '../db/migrate';
import { hashToken } from '../server/auth/service';

const FIRST = ['Ada', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tara', 'Umar', 'Vera', 'Wei', 'Ximena', 'Yusuf', 'Zoe', 'Aiko', 'Bruno', 'Carmen', 'Dmitri', 'Eva', 'Felix', 'Gita', 'Hana', 'Ivan', 'Julia', 'Karim', 'Lucia', 'Milo', 'Nadia'];
const LAST = ['Brooks', 'Carter', 'Diaz', 'Patel', 'Fischer', 'Haddad', 'Kim', 'Laurent', 'Moreau', 'Novak', 'Okafor', 'Petrov', 'Quist', 'Rossi', 'Silva', 'Tanaka', 'Ueda', 'Varga', 'Weber', 'Xu', 'Young', 'Zielinski', 'Andersen', 'Bauer', 'Costa', 'Dubois', 'Eriksen', 'Fontaine', 'Garcia', 'Horvat', 'Ibrahim', 'Jensen', 'Kowalski', 'Lopez', 'Meyer', 'Nakamura', 'Olsen', 'Pereira', 'Richter', 'Santos', 'Schmidt', 'Sato', 'Torres', 'Vogel', 'Walsh', 'Yilmaz', 'Zhang', 'Abbott', 'Banerjee', 'Cohen'];

export type SeededAgent = { name: string; token: string };
export type SeededRoster = { adminToken: string; agents: SeededAgent[]; teams: number };

/** "Ada Brooks", "Ben Brooks", … then "Ada Carter", …: unique up to FIRST × LAST agents. */
export function agentName(index: number): string {
  const first = FIRST[index % FIRST.length] ?? 'Agent';
  const last = LAST[Math.floor(index / FIRST.length) % LAST.length] ?? 'Agent';
  const round = Math.floor(index / (FIRST.length * LAST.length));
  return round === 0 ? `${first} ${last}` : `${first} ${last} ${round + 1}`;
}

/** Migrates the database and seeds `agents` agents in `teams` teams (round-robin) and one admin. */
export async function seedRoster(url: string, params: { agents: number; teams: number }): Promise<SeededRoster> {
  await runMigrations(url);
  const agents = Array.from({ length: params.agents }, (_, i) => ({ name: agentName(i), token: randomBytes(32).toString('base64url') }));
  const adminToken = randomBytes(32).toString('base64url');
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql.begin(async (tx) => {
      await tx`insert into teams (name) select 'Team ' || lpad(i::text, 2, '0') from generate_series(1, ${params.teams}::int) as i`;
      await tx`
        insert into users (email, name, role, password_hash)
        select 'bench-agent-' || a.i || '@bench.test', a.name, 'agent', 'bench: nobody signs in with a password'
          from unnest(${tx.array(agents.map((a) => a.name))}::text[]) with ordinality as a(name, i)`;
      await tx`insert into agent_presence (agent_id) select id from users where role = 'agent'`;
      await tx`
        insert into team_members (team_id, user_id, role)
        select t.id, u.id, 'agent'
          from generate_series(1, ${params.agents}::int) as i
          join users u on u.email = 'bench-agent-' || i || '@bench.test'
          join teams t on t.name = 'Team ' || lpad((1 + (i - 1) % ${params.teams}::int)::text, 2, '0')`;
      await tx`
        insert into auth_sessions (id, user_id, expires_at)
        select s.hash, u.id, now() + interval '1 day'
          from unnest(${tx.array(agents.map((a) => hashToken(a.token)))}::text[]) with ordinality as s(hash, i)
          join users u on u.email = 'bench-agent-' || s.i || '@bench.test'`;
      const [admin] = await tx<{ id: string }[]>`
        insert into users (email, name, role, password_hash)
        values ('bench-admin@bench.test', 'Bench Admin', 'admin', 'bench: nobody signs in with a password')
        returning id`;
      if (!admin) throw new Error('admin insert returned nothing');
      await tx`insert into auth_sessions (id, user_id, expires_at) values (${hashToken(adminToken)}, ${admin.id}, now() + interval '1 day')`;
    });
    const [row] = await sql<{ agents: number; members: number }[]>`
      select (select count(*)::int from users where role = 'agent') as agents,
             (select count(*)::int from team_members) as members`;
    if (row?.agents !== params.agents || row.members !== params.agents) {
      throw new Error(`seeded ${row?.agents ?? 0} agents in ${row?.members ?? 0} team places, expected ${params.agents}`);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return { adminToken, agents, teams: params.teams };
}

/**
 * Spreads every agent's "in status since" over the last `hours` hours, as on a
 * desk that has been running a while (the seed and the devices connecting set
 * them all to the same second). The rows are not re-announced: the page reads
 * them in its snapshot, which it has not taken yet.
 */
export async function spreadSince(url: string, hours: number): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql`update agent_presence set since = now() - random() * make_interval(hours => ${hours}::int)`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The shown status of every agent, counted: what the page's counts must say. */
export async function statusCounts(url: string): Promise<Record<string, number>> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from agent_presence group by status`;
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    await sql.end({ timeout: 5 });
  }
}
