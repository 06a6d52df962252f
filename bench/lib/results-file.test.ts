import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  deepenHeadings,
  describePostgres,
  describeRedis,
  modifiedAt,
  renderResults,
  reportWritten,
  type Environment,
  type Results,
} from './results-file';

const environment: Environment = {
  startedAt: new Date('2026-12-05T09:00:00.000Z'),
  cpuModels: ['AMD EPYC'],
  cpuCount: 2,
  memoryBytes: 8 * 2 ** 30,
  os: 'Debian GNU/Linux 12 (bookworm); Linux 6.1.0 x64',
  node: 'v20.20.2',
  postgres: '15.20, the server at BENCH_ADMIN_DATABASE_URL (postgres://127.0.0.1:5432)',
  postgresExternal: true,
  redis: "7.0.15 at redis://127.0.0.1:6379 (the presence benchmark's Redis baseline)",
  git: { commit: '05d0191', changed: [] },
  settings: [],
  loadAverage: 0.25,
};

const presenceReport = [
  '# Presence benchmark — full',
  '',
  '| mode | ack p99 ms |',
  '|:--|--:|',
  '| batched (product) | 8.05 |',
  '| UPSERT per heartbeat | 11.28 |',
  '',
  '| ratio | ack p99 |',
  '|:--|--:|',
  '| upsert ÷ batched | 1.4× |',
  '',
].join('\n');

const results: Results = {
  smoke: false,
  command: 'npm run bench',
  environment,
  loadAverageAtEnd: 1.5,
  seconds: 700,
  runs: [
    { name: 'presence', seconds: 573, passed: true, reportPath: 'bench/results/presence-full.md', report: presenceReport },
    { name: 'fanout', seconds: 158, passed: false, reportPath: 'bench/results/fanout-full.md', report: '# Fan-out benchmark — full\n\n- FAIL — p99 no worse than the Socket.IO baseline\n' },
    { name: 'routing', seconds: 4, passed: false, error: 'connect ECONNREFUSED', reportPath: 'bench/results/routing-full.md', report: undefined },
  ],
};

describe('renderResults', () => {
  const markdown = renderResults(results);
  const lines = markdown.split('\n');

  it('names the date, commit, command, machine, versions and duration of the run', () => {
    expect(lines).toContain('- date: 2026-12-05T09:00:00.000Z');
    expect(lines).toContain('- commit: 05d0191, working tree clean');
    expect(lines).toContain('- command: `npm run bench`');
    expect(lines).toContain('- machine: AMD EPYC, 2 logical CPUs; 8.0 GiB memory; Debian GNU/Linux 12 (bookworm); Linux 6.1.0 x64');
    expect(lines).toContain('- load average (1 min) at the start / end: 0.25 / 1.50');
    expect(lines).toContain('- Node: v20.20.2');
    expect(lines).toContain('- PostgreSQL: 15.20, the server at BENCH_ADMIN_DATABASE_URL (postgres://127.0.0.1:5432)');
    expect(lines).toContain("- Redis: 7.0.15 at redis://127.0.0.1:6379 (the presence benchmark's Redis baseline)");
    expect(lines).toContain('- duration: 700 s (11 min 40 s) in all');
    expect(lines[0]).toBe('# Benchmark results');
    expect(lines[2]).toMatch(/^To reproduce: check out commit 05d0191, .* run `npm run bench` with BENCH_ADMIN_DATABASE_URL/);
  });

  it('says which benchmarks failed, and which broke before writing a report', () => {
    expect(lines).toContain('- result: 1 of 3 passed; FAILED: fanout, routing');
    expect(lines).toContain('| presence | passed | 573 s (9 min 33 s) | `bench/results/presence-full.md` |');
    expect(lines).toContain('| fanout | FAILED (see its report) | 158 s (2 min 38 s) | `bench/results/fanout-full.md` |');
    expect(lines).toContain('| routing | FAILED: broke (connect ECONNREFUSED) | 4 s | none written |');
    expect(markdown).toContain('## routing\n\nNo report: the benchmark broke (connect ECONNREFUSED) before writing `bench/results/routing-full.md`');
  });

  it("includes each report as written, its tables untouched and its title under the file's", () => {
    expect(markdown).toContain(deepenHeadings(presenceReport.trimEnd(), 1));
    expect(markdown).toContain('## Presence benchmark — full\n\n| mode | ack p99 ms |\n|:--|--:|\n| batched (product) | 8.05 |');
    expect(markdown).toContain('| upsert ÷ batched | 1.4× |');
    expect(markdown).toContain('## Fan-out benchmark — full\n\n- FAIL — p99 no worse than the Socket.IO baseline');
    expect(markdown.indexOf('## Presence')).toBeLessThan(markdown.indexOf('## Fan-out'));
    expect(markdown.indexOf('## Fan-out')).toBeLessThan(markdown.indexOf('## routing'));
  });

  it('marks a smoke run as no figures, and lists a dirty tree and the BENCH_ settings', () => {
    const smoke = renderResults({
      ...results,
      smoke: true,
      command: 'npm run bench -- --smoke',
      environment: { ...environment, git: { commit: 'abc1234', changed: ['bench/run.ts'] }, settings: ['BENCH_SYSTEMS=switchboard'] },
    }).split('\n');
    expect(smoke[0]).toBe('# Benchmark results — SMOKE RUN, not the figures');
    expect(smoke).toContain('- commit: abc1234, working tree DIRTY (the figures are of the commit plus these changes): `bench/run.ts`');
    expect(smoke).toContain('- command: `npm run bench -- --smoke` with `BENCH_SYSTEMS=switchboard`');
  });
});

describe('deepenHeadings', () => {
  it('moves headings down and leaves fenced code, table cells and #words alone', () => {
    const source = ['# Title', '## Part', '#hashtag', '| # | n |', '```sh', '# a shell comment', '```', '### Last'].join('\n');
    expect(deepenHeadings(source, 1)).toBe(['## Title', '### Part', '#hashtag', '| # | n |', '```sh', '# a shell comment', '```', '#### Last'].join('\n'));
  });
});

describe('reportWritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'results-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a report only when the benchmark wrote it during the run', () => {
    const file = join(dir, 'presence-full.md');
    expect(reportWritten(file, modifiedAt(file))).toBeUndefined(); // never written
    writeFileSync(file, 'an earlier run');
    const earlier = new Date(Date.now() - 60_000);
    utimesSync(file, earlier, earlier);
    const before = modifiedAt(file);
    expect(reportWritten(file, before)).toBeUndefined(); // left from an earlier run
    writeFileSync(file, '# this run');
    expect(reportWritten(file, before)).toBe('# this run');
  });
});

describe('the servers the benchmarks use', () => {
  it('names the PostgreSQL version and host without the credentials in the URL', async () => {
    const url = new URL(inject('adminDatabaseUrl'));
    if (!url.password) url.password = 'not-shown'; // a server without passwords ignores it
    const line = await describePostgres(url.toString());
    expect(line).toMatch(new RegExp(`^\\d+\\.\\d+\\S*( \\(.*\\))?, the server at BENCH_ADMIN_DATABASE_URL \\(postgres://${url.host}\\)$`));
    expect(line).not.toContain(url.password);
    expect(line).not.toContain(`${url.username}@`);
  });

  it('says the Redis baseline is skipped when nothing answers', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const line = await describeRedis(`redis://:secret@127.0.0.1:${port}`);
    expect(line).toMatch(new RegExp(`^none: nothing answered at redis://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\), so the presence benchmark ran without its Redis baseline$`));
    expect(line).not.toContain('secret');
  });
});
