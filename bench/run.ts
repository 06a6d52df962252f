// Entry of `npm run bench`: `npm run bench -- [name…] [--smoke]` runs the named
// benchmarks, or all of them without a name. A benchmark is a name and a
// function that runs it and resolves with whether it passed; add new ones to
// BENCHMARKS. A run of all of them gathers their reports into one file
// (bench/lib/results-file.ts): bench/RESULTS.md at full size, a copy under
// .test-data/ in smoke mode; a run with names leaves both alone.
import { loadavg } from 'node:os';
import {
  describeEnvironment,
  fromRoot,
  modifiedAt,
  reportFile,
  reportWritten,
  writeResults,
  type BenchmarkRun,
} from './lib/results-file';

type Benchmark = (options: { smoke: boolean; command: string }) => Promise<boolean>;

const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  presence: async () => (await import('./presence')).runPresence,
  fanout: async () => (await import('./fanout')).runFanout,
  'roster-ui': async () => (await import('./roster-ui')).runRosterUi,
  routing: async () => (await import('./routing')).runRouting,
  'round-trips': async () => (await import('./round-trips')).runRoundTrips,
  reports: async () => (await import('./reports')).runReports,
};

function usage(): string {
  return `usage: npm run bench -- [${Object.keys(BENCHMARKS).join('|')}]… [--smoke]`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--smoke');
  const names = args.filter((a) => !a.startsWith('-'));
  const unknownNames = names.filter((n) => !(n in BENCHMARKS));
  if (unknownFlags.length || unknownNames.length || args.includes('--help')) {
    process.stderr.write(`${unknownFlags.length || unknownNames.length ? `unknown: ${[...unknownFlags, ...unknownNames].join(' ')}\n` : ''}${usage()}\n`);
    return 2;
  }
  const command = args.length ? `npm run bench -- ${args.join(' ')}` : 'npm run bench';
  const everyBenchmark = names.length === 0;
  const runStarted = new Date();
  // Read before the benchmarks write their reports into the tree.
  const environment = everyBenchmark ? await describeEnvironment(runStarted) : undefined;
  const runs: BenchmarkRun[] = [];
  for (const name of everyBenchmark ? Object.keys(BENCHMARKS) : names) {
    const started = Date.now();
    const file = reportFile(name, smoke);
    const before = modifiedAt(file);
    process.stdout.write(`== bench ${name}${smoke ? ' (smoke)' : ''}\n`);
    let passed = false;
    let error: string | undefined;
    try {
      const run = await BENCHMARKS[name]?.();
      passed = run ? await run({ smoke, command }) : false;
    } catch (thrown) {
      // The others still run, and the results file says this one broke.
      process.stderr.write(`bench ${name}: ${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}\n`);
      error = (thrown instanceof Error ? thrown.message : String(thrown)).split('\n')[0];
    }
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`== bench ${name}: ${passed ? 'ok' : 'FAILED'} in ${seconds.toFixed(0)} s\n`);
    runs.push({ name, seconds, passed, error, reportPath: fromRoot(file), report: reportWritten(file, before) });
  }
  if (environment) {
    const written = writeResults({
      smoke,
      command,
      environment,
      loadAverageAtEnd: loadavg()[0] ?? Number.NaN,
      seconds: (Date.now() - runStarted.getTime()) / 1000,
      runs,
    });
    process.stdout.write(`== results of every benchmark written to ${fromRoot(written)}\n`);
  } else {
    process.stdout.write('== bench/RESULTS.md left alone: only `npm run bench` with no name writes it\n');
  }
  return runs.every((r) => r.passed) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
