// Agents by the thousand for tests and benchmarks, in four statements: users,
// their presence rows, their team membership and one browser sign-in each
// (the cookie token a simulated tab presents). Creating them one by one, with
// a hashed password each, would take minutes.
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { hashToken } from '../auth/service';

/**
 * Agents `${emailPrefix}-1@${domain}` … `-${count}`, named `${name} agent i`,
 * in team `teamId`; returns their ids and sign-in tokens, both in the order of i.
 * Nobody can sign in to them with a password: they have none.
 */
export async function insertAgentsInBulk(
  tx: postgres.TransactionSql,
  params: { teamId: string; emailPrefix: string; domain: string; name: string; count: number },
): Promise<{ ids: string[]; tokens: string[] }> {
  const rows = await tx<{ id: string; email: string }[]>`
    insert into users (email, name, role, password_hash)
    select ${params.emailPrefix} || '-' || i || '@' || ${params.domain}, ${params.name} || ' agent ' || i, 'agent',
           'seeded in bulk: nobody signs in with a password'
      from generate_series(1, ${params.count}::int) as i
    returning id, email`;
  // RETURNING promises no order: put agent i at index i - 1.
  const ids = new Array<string>(params.count);
  for (const row of rows) ids[Number(row.email.slice(params.emailPrefix.length + 1, row.email.indexOf('@'))) - 1] = row.id;
  const tokens = ids.map(() => randomBytes(32).toString('base64url'));
  await tx`insert into agent_presence (agent_id) select unnest(${tx.array(ids)}::uuid[])`;
  await tx`insert into team_members (team_id, user_id, role) select ${params.teamId}, unnest(${tx.array(ids)}::uuid[]), 'agent'`;
  await tx`
    insert into auth_sessions (id, user_id, expires_at)
    select unnest(${tx.array(tokens.map(hashToken))}::text[]), unnest(${tx.array(ids)}::uuid[]), now() + interval '1 day'`;
  return { ids, tokens };
}
