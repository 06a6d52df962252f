// A transaction in as few round trips as its logic allows. On one reserved
// connection, BEGIN travels with the first reads and COMMIT with the last
// write: postgres.js pipelines queries issued together on a connection, and
// PostgreSQL runs them one after the other, each statement with its own
// snapshot, so a read sent right behind a FOR UPDATE sees whatever the lock's
// previous holder committed. A presence change takes two round trips this way
// instead of five (decision 014).
import type postgres from 'postgres';
import { PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js';
import { PgDialect } from 'drizzle-orm/pg-core';
import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { preparing, type Db, type DbOrTx, type Tx } from './client';

const dialect = new PgDialect({ casing: 'snake_case' });

type Reserved = postgres.ReservedSql;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Pending = postgres.PendingQuery<any>;
type Results<T extends readonly Pending[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

/** True for a pool handle (not a transaction): only a pool can reserve a connection. */
export function isPool(db: DbOrTx): db is Db {
  return '$client' in db && typeof (db as Db).$client?.reserve === 'function';
}

/**
 * Runs a statement built with drizzle as a prepared statement on a pool
 * (drizzle's own execute parses and plans it every time), or through drizzle
 * in a transaction. For statements run many times a second, whose text does
 * not vary with their values.
 */
export async function executePrepared<R extends Record<string, unknown>>(db: DbOrTx, statement: SQL): Promise<R[]> {
  if (!isPool(db)) return [...(await db.execute<R>(statement))] as R[];
  const query = dialect.sqlToQuery(statement);
  return [...(await db.$client.unsafe<R[]>(query.sql, query.params as postgres.ParameterOrJSON<never>[], { prepare: true }))];
}

/**
 * A parameter of a prepared statement, given through a sub-select the planner
 * cannot see into (`where id > ${opaque(cursor, 'bigint')}`). When a custom
 * plan for the actual value always looks cheaper than the generic plan (a
 * cursor at the newest id; an array of one channel), PostgreSQL plans every
 * execution anew, and for the hub's log reads that planning cost ten times the
 * read (0.4 ms against 0.04 ms with 5,000 agents). With the value hidden, the
 * two cost the same, and after five executions it keeps the generic plan: for
 * these statements the same index scans.
 */
export function opaque(value: unknown, type: 'bigint' | 'ticket_channel[]'): SQL {
  return sql`(select ${value}::${sql.raw(type)})`;
}

export class Pipelined {
  private finished = false;
  private drizzleTx: Tx | undefined;

  private constructor(readonly sql: Reserved) {}

  static async open(db: Db): Promise<Pipelined> {
    return new Pipelined(await db.$client.reserve());
  }

  /** Sends BEGIN and the given reads in one trip; resolves with the reads' rows. */
  async begin<T extends readonly Pending[]>(reads: (sql: Reserved) => T): Promise<Results<T>> {
    const begin = this.sql`begin`;
    const queries = reads(this.sql);
    const [, ...results] = await Promise.all([begin, ...queries]);
    return results as Results<T>;
  }

  /**
   * Sends BEGIN without waiting for it: what is sent next travels in the same
   * trip (a failed BEGIN fails the statements behind it, which are awaited).
   */
  sendBegin(): void {
    this.sql`begin`.execute().catch(() => undefined);
  }

  /**
   * Sends a statement built with drizzle now, prepared, and resolves with its
   * rows as PostgreSQL names them (snake_case; timestamps as strings). Sent in
   * call order: drizzle's own queries start when awaited, a varying number of
   * microtasks later, so they cannot be trusted to keep their order in a
   * pipeline.
   */
  send<R extends Record<string, unknown>>(statement: SQLWrapper): Promise<R[]> {
    const query = dialect.sqlToQuery(statement.getSQL());
    const sent = this.sql.unsafe<R[]>(query.sql, query.params as postgres.ParameterOrJSON<never>[], { prepare: true }).execute();
    // Its caller awaits it later (that is the point of sending it now): until then a failure (a
    // connection lost under the pipeline) must not count as an unhandled rejection.
    sent.catch(() => undefined);
    return sent;
  }

  /**
   * Sends COMMIT behind statements already sent (`send`) and waits for all of
   * them: the last trip of the transaction. If one fails, the transaction is
   * rolled back and this rejects with that failure.
   */
  async commitAfter<T extends readonly Promise<unknown>[]>(sent: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
    const results = await Promise.all([...sent, this.sql`commit`.execute()]);
    this.finished = true;
    return results.slice(0, -1) as { -readonly [K in keyof T]: Awaited<T[K]> };
  }

  /** Drizzle on the same connection, for statements between the first reads and the last write. */
  get tx(): Tx {
    // What drizzle's own transaction() builds, on the reserved connection (already in the transaction).
    // No relational schema and no savepoints (a nested tx.transaction() would fail): plain statements only.
    if (!this.drizzleTx) {
      const session = new PostgresJsSession(preparing(this.sql) as unknown as postgres.Sql, dialect, undefined);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the types want a TransactionSql; the calls made are the same
      this.drizzleTx = new PostgresJsTransaction(dialect, session as any, undefined) as unknown as Tx;
    }
    return this.drizzleTx;
  }

  /** Sends the last statement (if any) and COMMIT in one trip; resolves with the statement's rows. */
  async commitWith<R extends Record<string, unknown>>(statement: SQL | undefined): Promise<R[]> {
    if (!statement) {
      await this.sql`commit`;
      this.finished = true;
      return [];
    }
    const query = dialect.sqlToQuery(statement);
    // Prepared (drizzle's own execution parses and plans every time): this statement runs on every change.
    const [rows] = await Promise.all([
      this.sql.unsafe<R[]>(query.sql, query.params as postgres.ParameterOrJSON<never>[], { prepare: true }),
      this.sql`commit`,
    ]);
    this.finished = true;
    return [...rows];
  }

  /** Rolls back unless committed, and gives the connection back to the pool. */
  async close(): Promise<void> {
    try {
      if (!this.finished) await this.sql`rollback`.catch(() => undefined);
    } finally {
      this.sql.release();
    }
  }
}
