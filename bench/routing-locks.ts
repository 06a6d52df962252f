// Who holds the database's transaction-level advisory locks while the routing
// benchmark runs, and what the holder is doing meanwhile: routing and presence
// number their events under two such locks (the ticket and presence
// event-order locks), held to commit, so every routing write queues for them.
// pg_locks joined to pg_stat_activity, sampled every few milliseconds; for
// each (lock, state, wait, statement) the average number of holders — the
// fraction of the time a lock was held that way. Session-level advisory locks
// (a node's leadership) are left out. One connection of its own.
import { PgSampler, SHOWN_QUERY_CHARS } from './lib/database-activity';

export type LockHolding = { lock: string; state: string; wait: string; query: string; holders: number };

export class LockSampler {
  private readonly sampler: PgSampler<{ lock: string; state: string; wait: string; query: string }>;

  constructor(url: string, everyMs: number) {
    // A transaction-level lock's holder is inside a transaction; a session-level one held by an idle connection is not.
    this.sampler = new PgSampler(url, everyMs, 'bench-locks', (sql) => sql`
      select l.objid::text as lock, a.state, coalesce(a.wait_event_type || ':' || a.wait_event, '') as wait,
             left(regexp_replace(a.query, '\\s+', ' ', 'g'), ${SHOWN_QUERY_CHARS}) as query, count(*)::int as n
        from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and a.datname = current_database() and a.xact_start is not null
       group by 1, 2, 3, 4`);
  }

  start(): void {
    this.sampler.start();
  }

  /** Stops sampling; resolves with the average holders per (lock, state, wait, statement), most first. */
  async stop(): Promise<LockHolding[]> {
    return (await this.sampler.stop()).map(({ group, average }) => ({ ...group, holders: average }));
  }
}
