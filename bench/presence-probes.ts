// The counters read around each measurement window, from outside the node:
// PostgreSQL's statement and transaction counts for the benchmark database
// and how many device sessions it holds as online; Redis's command count, CPU
// time and online set. Each probe uses its own single connection, and its
// queries name a pg_stat_ view, which is how the statement count leaves them out.
import postgres from 'postgres';
import { createClient } from 'redis';

export class DatabaseProbe {
  private readonly sql: postgres.Sql;

  constructor(url: string) {
    this.sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'bench-probe' } });
  }

  /**
   * Makes pg_stat_statements readable from this database; false when the
   * server was not started with it (then only transactions can be counted).
   */
  async enableStatementCounting(): Promise<boolean> {
    try {
      await this.sql`create extension if not exists pg_stat_statements`;
      await this.statements();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Statements this database has run (pg_stat_statements calls, top level,
   * utility commands such as BEGIN and COMMIT not tracked), except the probe's own.
   */
  async statements(): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`
      select coalesce(sum(calls), 0)::float8 as n from pg_stat_statements
       where dbid = (select oid from pg_database where datname = current_database())
         and query not like '%pg_stat_%'`;
    return row?.n ?? Number.NaN;
  }

  /** Calls so far of each statement this database has run (probe's own left out), by query id. */
  async statementCalls(): Promise<Map<string, { query: string; calls: number }>> {
    const rows = await this.sql<{ id: string; query: string; calls: number }[]>`
      select queryid::text as id, query, calls::float8 as calls from pg_stat_statements
       where dbid = (select oid from pg_database where datname = current_database())
         and query not like '%pg_stat_%'`;
    return new Map(rows.map((r) => [r.id, { query: r.query, calls: r.calls }]));
  }

  /**
   * Committed plus rolled-back transactions in this database since the
   * server started (pg_stat_database). A statement outside a transaction is
   * one transaction. Backends report them late: at most once a second, and a
   * backend that falls idle only after 10 s.
   */
  async transactions(): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`
      select (xact_commit + xact_rollback)::float8 as n from pg_stat_database where datname = current_database()`;
    return row?.n ?? Number.NaN;
  }

  /** Live device sessions whose last_seen_at is within `withinMs`. */
  async onlineSessions(withinMs: number): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`
      select count(*)::int as n /* not counted: pg_stat_ */ from device_sessions
       where ended_at is null and last_seen_at > now() - make_interval(secs => ${withinMs / 1000})`;
    return row?.n ?? 0;
  }

  /** Device sessions ended so far, by reason. */
  async endedSessions(): Promise<Record<string, number>> {
    const rows = await this.sql<{ reason: string; n: number }[]>`
      select end_reason::text as reason, count(*)::int as n /* not counted: pg_stat_ */ from device_sessions where ended_at is not null group by 1`;
    return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
  }

  close(): Promise<void> {
    return this.sql.end({ timeout: 5 });
  }
}

type Redis = ReturnType<typeof createClient>;

const infoNumber = (info: string, name: string) => {
  const match = new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info);
  return match ? Number(match[1]) : Number.NaN;
};

export class RedisProbe {
  private constructor(private readonly client: Redis) {}

  /** Connects, or resolves with why it could not (Redis unreachable). */
  static async connect(url: string): Promise<RedisProbe | string> {
    const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
    let lastError = '';
    client.on('error', (error: unknown) => (lastError = error instanceof Error ? error.message : String(error)));
    try {
      await client.connect();
      await client.ping();
      return new RedisProbe(client);
    } catch (error) {
      if (client.isOpen) client.destroy();
      return lastError || (error instanceof Error ? error.message : String(error));
    }
  }

  /** Commands the Redis server has processed since it started (INFO stats). */
  async commandsProcessed(): Promise<number> {
    return infoNumber(await this.client.info('stats'), 'total_commands_processed');
  }

  /** CPU seconds (user + system) the Redis server has used (INFO cpu). */
  async cpuSeconds(): Promise<number> {
    const info = await this.client.info('cpu');
    return infoNumber(info, 'used_cpu_user') + infoNumber(info, 'used_cpu_sys');
  }

  /** Members of the presence set seen within `withinMs` (what "online" means in that design). */
  online(key: string, withinMs: number): Promise<number> {
    return this.client.zCount(key, Date.now() - withinMs, '+inf');
  }

  async remove(key: string): Promise<void> {
    await this.client.del(key);
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => undefined);
  }
}
