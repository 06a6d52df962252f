// Where a loaded database spends its time, from outside: pg_stat_activity
// sampled every few milliseconds while a window runs, and for each (state,
// wait, statement) the average number of the database's client backends in
// it. "active" with no wait is running; "Lock:…" waits for a lock;
// "Client:ClientRead" waits for its client — inside a transaction, that is
// time the application holds the transaction (and its locks) open between
// statements. One connection of its own, left out of the count.
import postgres from 'postgres';

export type Activity = { state: string; wait: string; query: string; backends: number };

/** Statements shown in reports are cut to this many characters. */
export const SHOWN_QUERY_CHARS = 90;

/**
 * Samples a grouping query every `everyMs` on a connection of its own; for each
 * group (its text columns) it averages the count `n` over the samples taken.
 * A tick is skipped rather than queued behind a slow sample.
 */
export class PgSampler<G extends Record<string, string>> {
  private readonly sql: postgres.Sql;
  private readonly totals = new Map<string, { group: G; sum: number }>();
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly everyMs: number,
    name: string,
    private readonly query: (sql: postgres.Sql) => Promise<Array<G & { n: number }>>,
  ) {
    this.sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: name } });
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
    }, this.everyMs);
  }

  /** Stops sampling; resolves with each group's average count, most first. */
  async stop(): Promise<Array<{ group: G; average: number }>> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
    await this.sql.end({ timeout: 5 });
    return [...this.totals.values()]
      .map((t) => ({ group: t.group, average: this.samples ? t.sum / this.samples : 0 }))
      .sort((a, b) => b.average - a.average);
  }

  private async sample(): Promise<void> {
    const rows = await this.query(this.sql);
    this.samples += 1;
    for (const { n, ...columns } of rows) {
      const group = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, String(v).trim()])) as G;
      const key = Object.values(group).join('\u0000');
      const total = this.totals.get(key) ?? { group, sum: 0 };
      total.sum += n;
      this.totals.set(key, total);
    }
  }
}

/** The database's client backends by (state, wait, statement). */
export class ActivitySampler {
  private readonly sampler: PgSampler<{ state: string; wait: string; query: string }>;

  constructor(url: string, everyMs: number) {
    this.sampler = new PgSampler(url, everyMs, 'bench-activity', (sql) => sql`
      select state, coalesce(wait_event_type || ':' || wait_event, '') as wait,
             left(regexp_replace(query, '\\s+', ' ', 'g'), ${SHOWN_QUERY_CHARS}) as query, count(*)::int as n
        from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()
         and backend_type = 'client backend' and state <> 'idle'
       group by 1, 2, 3`);
  }

  start(): void {
    this.sampler.start();
  }

  /** Stops sampling; resolves with the average backends per (state, wait, statement), most first. */
  async stop(): Promise<Activity[]> {
    return (await this.sampler.stop()).map(({ group, average }) => ({ ...group, backends: average }));
  }
}
