// Who holds the database's transaction-level advisory locks while the routing
// benchmark runs, and what the holder is doing meanwhile: routing and presence
// number their events under two such locks (the ticket and presence
// event-order locks), held to commit, so every routing write queues for them.
// pg_locks joined to pg_stat_activity, sampled every few milliseconds; for
// each (lock, state, wait, statement) the average number of holders — the
// fraction of the time a lock was held that way. Session-level advisory locks
// (a node's leadership) are left out. One connection of its own.
import postgres from 'postgres';

export type LockHolding = { lock: string; state: string; wait: string; query: string; holders: number };

const SHOWN_QUERY_CHARS = 90;

export class LockSampler {
  private readonly sql: postgres.Sql;
  private readonly totals = new Map<string, LockHolding>();
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly everyMs: number,
  ) {
    this.sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'bench-locks' } });
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
    }, this.everyMs);
  }

  /** Stops sampling; resolves with the average holders per (lock, state, wait, statement), most first. */
  async stop(): Promise<LockHolding[]> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
    await this.sql.end({ timeout: 5 });
    return [...this.totals.values()]
      .map((h) => ({ ...h, holders: this.samples ? h.holders / this.samples : 0 }))
      .sort((a, b) => b.holders - a.holders);
  }

  private async sample(): Promise<void> {
    // A transaction-level lock's holder is inside a transaction; a session-level one held by an idle connection is not.
    const rows = await this.sql<Array<{ lock: string; state: string; wait: string; query: string; n: number }>>`
      select l.objid::text as lock, a.state, coalesce(a.wait_event_type || ':' || a.wait_event, '') as wait,
             left(regexp_replace(a.query, '\\s+', ' ', 'g'), ${SHOWN_QUERY_CHARS}) as query, count(*)::int as n
        from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and a.datname = current_database() and a.xact_start is not null
       group by 1, 2, 3, 4`;
    this.samples += 1;
    for (const row of rows) {
      const key = `${row.lock}\u0000${row.state}\u0000${row.wait}\u0000${row.query}`;
      const total = this.totals.get(key) ?? { lock: row.lock, state: row.state, wait: row.wait, query: row.query.trim(), holders: 0 };
      total.holders += row.n;
      this.totals.set(key, total);
    }
  }
}
