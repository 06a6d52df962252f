// What one message between processes costs on this machine: a postgres.js
// connection sends `select $1` N times one after the other (a round trip
// each: the shape of a transaction that waits for each answer) and N times
// together (pipelined: the shape of db/pipelined.ts). Reported per statement:
// wall time, and this process's CPU time (user + system). The gap between the
// two rows is what a round trip costs beyond the statement itself; decision
// 017 explains why it rules the routing and fan-out figures here.
// PostgreSQL: the server at BENCH_ADMIN_DATABASE_URL, else an embedded one.
import { cpus } from 'node:os';
import postgres from 'postgres';
import { markdownTable } from './lib/markdown';
import { openBenchPostgres } from './lib/bench-postgres';
import { Cleanups, progress } from './lib/cleanups';
import { writeReportFile } from './lib/results-file';

const say = progress('round-trips');

type Row = { shape: string; statements: number; wallUs: number; cpuUs: number; systemUs: number };

async function measure(sql: postgres.Sql, shape: 'sequential' | 'pipelined', statements: number): Promise<Row> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  if (shape === 'sequential') {
    for (let i = 0; i < statements; i++) await sql`select ${i}::int as n`;
  } else {
    await Promise.all(Array.from({ length: statements }, (_, i) => sql`select ${i}::int as n`));
  }
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    shape,
    statements,
    wallUs: (wall * 1000) / statements,
    cpuUs: (used.user + used.system) / statements,
    systemUs: used.system / statements,
  };
}

export async function runRoundTrips(options: { smoke: boolean; command: string }): Promise<boolean> {
  const statements = options.smoke ? 500 : 20_000;
  const cleanups = new Cleanups(say);
  const releaseSignals = cleanups.onSignals();
  try {
    const database = await openBenchPostgres({ say });
    cleanups.push(() => database.stop());
    const sql = postgres(database.adminUrl, { max: 1, prepare: true, onnotice: () => undefined });
    cleanups.push(() => sql.end({ timeout: 5 }));
    await measure(sql, 'sequential', 200); // warm: the connection, the prepared statement, the JIT
    await measure(sql, 'pipelined', 200);
    const rows = [await measure(sql, 'sequential', statements), await measure(sql, 'pipelined', statements)];
    const fixed = (n: number) => n.toFixed(1);
    const markdown = [
      `# Round trips — ${options.smoke ? 'smoke' : 'full'}`,
      '',
      `- date: ${new Date().toISOString()}`,
      `- node: ${process.version}; nproc: ${cpus().length}; PostgreSQL ${database.version}${database.external ? ' (external)' : ' (embedded)'}`,
      `- command: \`${options.command}\``,
      '',
      markdownTable(
        ['shape', 'statements', 'wall µs per statement', 'Node CPU µs per statement', 'of which system µs'],
        rows.map((r) => [r.shape, r.statements.toLocaleString('en-US'), fixed(r.wallUs), fixed(r.cpuUs), fixed(r.systemUs)]),
      ),
      '',
      'One postgres.js connection, `select $1::int` prepared. Sequential: each statement waits for the one before (a round trip each).',
      'Pipelined: all sent at once. Node CPU is this process only; PostgreSQL spends its own on top.',
      '',
    ].join('\n');
    process.stdout.write(`\n${markdown}\n`);
    writeReportFile('round-trips', options.smoke, markdown);
    // A measurement, not a target: it passes when both shapes ran every statement.
    return rows.every((r) => Number.isFinite(r.wallUs) && r.wallUs > 0);
  } finally {
    releaseSignals();
    await cleanups.run();
  }
}
