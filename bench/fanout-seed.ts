// The fan-out benchmark's workspace, on a fresh database per system: the
// presence benchmark's agents (one team, each with a browser sign-in whose
// cookie token its device presents) and `watchers` supervisors of that team,
// signed in the same way, who watch the roster. Also the table the Socket.IO
// Postgres adapter needs for payloads over NOTIFY's limit. Bulk SQL.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { hashToken } from '../server/auth/service';
import { seedAgents } from './presence-seed';

export type Workspace = {
  /** In the order of their number (bench-agent-1 first). */
  agents: Array<{ id: string; token: string }>;
  watcherTokens: string[];
};

export async function seedWorkspace(url: string, params: { agents: number; watchers: number }): Promise<Workspace> {
  const agentTokens = await seedAgents(url, params.agents);
  const watcherTokens = Array.from({ length: params.watchers }, () => randomBytes(32).toString('base64url'));
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql.begin(async (tx) => {
      await tx`
        insert into users (email, name, role, password_hash)
        select 'bench-watcher-' || i || '@bench.test', 'Bench watcher ' || i, 'supervisor', 'bench: nobody signs in with a password'
          from generate_series(1, ${params.watchers}::int) as i`;
      await tx`
        insert into team_members (team_id, user_id, role)
        select t.id, u.id, 'supervisor' from users u cross join teams t
         where u.role = 'supervisor' and t.name = 'Bench'`;
      await tx`
        insert into auth_sessions (id, user_id, expires_at)
        select s.hash, u.id, now() + interval '1 day'
          from unnest(${tx.array(watcherTokens.map(hashToken))}::text[]) with ordinality as s(hash, i)
          join users u on u.email = 'bench-watcher-' || s.i || '@bench.test'`;
    });
    const rows = await sql<{ id: string; n: number }[]>`
      select id, split_part(split_part(email, '@', 1), '-', 3)::int as n from users where role = 'agent'`;
    const ids = new Map(rows.map((r) => [r.n, r.id]));
    const agents = agentTokens.map((token, i) => {
      const id = ids.get(i + 1);
      if (!id) throw new Error(`agent ${i + 1} was not seeded`);
      return { id, token };
    });
    return { agents, watcherTokens };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The Socket.IO Postgres adapter's table (as its README creates it). */
export async function createAdapterTable(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql`
      create table if not exists socket_io_attachments (
        id bigserial unique,
        created_at timestamptz default now(),
        payload bytea
      )`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
