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
  return drizzle(preparing(sql), { schema, casing: 'snake_case' });
}

/**
 * The handle drizzle is given: postgres.js, except that statements with
 * parameters run as named prepared statements (decision 016). drizzle asks
 * postgres.js for unnamed ones, and postgres.js sends an unnamed statement
 * with parameters in two round trips (Parse and Describe, wait for the
 * parameter types, then Bind and Execute) and holds back anything queued
 * behind it; a prepared one is described once per connection and then costs
 * one trip, pipelined with its neighbours. Transactions and savepoints get
 * the same treatment. Statements without parameters are left as they are
 * (one trip already, and migrations' DDL need not fill the statement cache).
 */
export function preparing<T extends postgres.Sql | postgres.TransactionSql | postgres.ReservedSql>(sql: T): T {
  return new Proxy(sql, {
    get(target, key, receiver) {
      if (key === 'unsafe') {
        return (query: string, parameters?: unknown[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(
            query,
            parameters as postgres.ParameterOrJSON<never>[],
            parameters?.length ? { ...options, prepare: true } : options,
          );
      }
      if (key === 'begin' || key === 'savepoint') {
        const open = Reflect.get(target, key, receiver) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const body = args.pop() as (tx: postgres.TransactionSql) => unknown;
          return open.call(target, ...args, (tx: postgres.TransactionSql) => body(preparing(tx)));
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

export type Db = ReturnType<typeof createDb>;
/** A transaction handle; database functions accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;
