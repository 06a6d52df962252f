// How fast this machine is right now, measured just before a benchmark runs,
// so that two reports can be told apart from two machines. The same VM here
// has run the same code 1.4x slower one hour than another (decision 021,
// addendum): a figure without this line compares nothing.
// - compute: a fixed piece of JavaScript (encode, decode and sort a few
//   thousand small objects), best of five, in ms;
// - round trip: `select $1` sent and awaited one after the other on one
//   postgres.js connection, the median wall time per statement, in µs
//   (decision 017: what a message between processes costs).
import postgres from 'postgres';

export type Calibration = { computeMs: number; roundTripUs: number };

const ROUND_TRIPS = 1_000;

function computeOnce(): number {
  const started = performance.now();
  const items = Array.from({ length: 4_000 }, (_, i) => ({ id: `agent-${(i * 7919) % 4_000}`, load: { chat: i % 3 }, at: i * 13 }));
  const copied = JSON.parse(JSON.stringify(items)) as typeof items;
  copied.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (copied.length !== items.length) throw new Error('calibration: lost items');
  return performance.now() - started;
}

export async function calibrate(databaseUrl: string): Promise<Calibration> {
  for (let i = 0; i < 5; i++) computeOnce(); // warm the JIT
  const computeMs = Math.min(...Array.from({ length: 5 }, computeOnce));
  const sql = postgres(databaseUrl, { max: 1, prepare: true, onnotice: () => undefined });
  try {
    for (let i = 0; i < 100; i++) await sql`select ${i}::int as n`; // the connection, the statement, the JIT
    const walls: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const started = performance.now();
      await sql`select ${i}::int as n`;
      walls.push(performance.now() - started);
    }
    walls.sort((a, b) => a - b);
    return { computeMs, roundTripUs: walls[Math.floor(walls.length / 2)]! * 1000 };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The report's line for it. */
export function calibrationLine(c: Calibration | undefined): string {
  if (!c) return '- machine speed: not measured';
  return (
    `- machine speed just before the run (bench/lib/calibration.ts; compare runs only where these agree): ` +
    `fixed JavaScript workload ${c.computeMs.toFixed(1)} ms (best of 5); PostgreSQL round trip ${c.roundTripUs.toFixed(0)} µs (median)`
  );
}
