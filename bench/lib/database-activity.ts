// Where a loaded database spends its time, from outside: pg_stat_activity
// sampled every few milliseconds while a window runs, and for each (state,
// wait, statement) the average number of the database's client backends in
// it. "active" with no wait is running; "Lock:…" waits for a lock;
// "Client:ClientRead" waits for its client — inside a transaction, that is
// time the application holds the transaction (and its locks) open between
// statements. One connection of its own, left out of the count.
import postgres from 'postgres';

export type Activity = { state: string; wait: string; query: string; backends: number };

const SHOWN_QUERY_CHARS = 90;

export class ActivitySampler {
  private readonly sql: postgres.Sql;
  private readonly totals = new Map<string, Activity>();
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly everyMs: number,
  ) {
    this.sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'bench-activity' } });
  }

  start(): void {
    this.timer ??= setInterval(() => {
      // Skip a tick rather than queue samples behind a slow one.
      this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
    }, this.everyMs);
  }

  /** Stops sampling; resolves with the average backends per (state, wait, statement), most first. */
  async stop(): Promise<Activity[]> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
    await this.sql.end({ timeout: 5 });
    return [...this.totals.values()]
      .map((a) => ({ ...a, backends: this.samples ? a.backends / this.samples : 0 }))
      .sort((a, b) => b.backends - a.backends);
  }

  private async sample(): Promise<void> {
    const rows = await this.sql<Array<{ state: string; wait: string; query: string; n: number }>>`
      select state, coalesce(wait_event_type || ':' || wait_event, '') as wait,
             left(regexp_replace(query, '\\s+', ' ', 'g'), ${SHOWN_QUERY_CHARS}) as query, count(*)::int as n
        from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()
         and backend_type = 'client backend' and state <> 'idle'
       group by 1, 2, 3`;
    this.samples += 1;
    for (const row of rows) {
      const key = `${row.state}\u0000${row.wait}\u0000${row.query}`;
      const total = this.totals.get(key) ?? { state: row.state, wait: row.wait, query: row.query.trim(), backends: 0 };
      total.backends += row.n;
      this.totals.set(key, total);
    }
  }
}
