// Database handles: one postgres.js pool per process, wrapped by drizzle.
// The hub's LISTEN connection is opened by postgres.js itself, apart from the pool.
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import * as schema from './schema';

export type Sql = postgres.Sql;

export function createSql(url: string, options: { max?: number; onnotice?: boolean; name?: string } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    // postgres.js backs off up to 18 s by default before reconnecting, which
    // would leave the LISTEN connection deaf that long. Cap it.
    backoff: (attempt) => Math.min(0.1 * 2 ** attempt, 2),
    connect_timeout: 10,
    onnotice: options.onnotice ? console.log : () => {},
    // Named per pool, so pg_stat_activity tells the pools apart.
    connection: { application_name: options.name ? `switchboard/${options.name}` : 'switchboard' },
  });
}

export function createDb(sql: Sql) {
  return drizzle(sql, { schema, casing: 'snake_case' });
}

export type Db = ReturnType<typeof createDb>;
/** A transaction handle; database functions accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;
