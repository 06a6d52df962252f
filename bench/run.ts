// Entry of `npm run bench`: `npm run bench -- [name…] [--smoke]` runs the named
// benchmarks, or all of them without a name. A benchmark is a name and a
// function that runs it and resolves with whether it passed; add new ones to
// BENCHMARKS.
type Benchmark = (options: { smoke: boolean; command: string }) => Promise<boolean>;

const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  presence: async () => (await import('./presence')).runPresence,
  fanout: async () => (await import('./fanout')).runFanout,
  'roster-ui': async () => (await import('./roster-ui')).runRosterUi,
  routing: async () => (await import('./routing')).runRouting,
  'round-trips': async () => (await import('./round-trips')).runRoundTrips,
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
  let passed = true;
  for (const name of names.length ? names : Object.keys(BENCHMARKS)) {
    const started = Date.now();
    process.stdout.write(`== bench ${name}${smoke ? ' (smoke)' : ''}\n`);
    const run = await BENCHMARKS[name]?.();
    const ok = run ? await run({ smoke, command }) : false;
    process.stdout.write(`== bench ${name}: ${ok ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    passed &&= ok;
  }
  return passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
