// `npm test`: makes the checkout ready (install, build), then runs every check
// in order — typecheck, lint, unit and integration tests (vitest), the fault
// suite (vitest, on its own), end-to-end tests (Playwright), the benchmarks in
// smoke mode — and closes with one line: "N passed, N failed".
// Uses only Node's own modules: it runs before dependencies are installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const reports = join(root, '.test-data', 'reports');
mkdirSync(reports, { recursive: true });

const step = (title, command, args, env = {}) => {
  process.stdout.write(`\n== ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status === 0;
};

const readJson = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
let passed = 0;
let failed = 0;
// Every failure by name, repeated just above the closing line: CI keeps only
// the tail of a long run, and the tail must say what failed.
const failures = [];
const firstLine = (text) => String(text ?? '').split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 300) ?? '';

if (!step('prepare', process.execPath, ['scripts/prepare.mjs', 'build'])) process.exit(1);

for (const [title, script] of [
  ['typecheck', 'typecheck'],
  ['lint', 'lint'],
]) {
  if (step(title, 'npm', ['run', '--silent', script])) passed += 1;
  else {
    failed += 1;
    failures.push(title);
  }
}

/** Runs vitest with `args`, counting its tests (and naming its failures) from its JSON report. */
function vitestStep(title, report, args) {
  const path = join(reports, report);
  rmSync(path, { force: true });
  const ok = step(title, 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${path}`, ...args]);
  const vitest = readJson(path);
  if (vitest) {
    passed += vitest.numPassedTests;
    failed += vitest.numFailedTests;
    for (const file of vitest.testResults) {
      const name = file.name.replace(root, '');
      for (const test of file.assertionResults) {
        if (test.status === 'failed') failures.push(`vitest ${name} › ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
      }
      if (file.status === 'failed' && file.message) failures.push(`vitest ${name}: ${firstLine(file.message)}`);
    }
  }
  if (!ok && !vitest?.numFailedTests) {
    failed += 1; // the run itself failed
    failures.push(`${title}: the run`);
  }
}

// The fault suite at scale (three node processes, thousands of tabs) runs on
// its own: beside other test files it would share two cores and PostgreSQL's
// 100 connections with them, and its timings would measure the neighbours.
const FAULT_SUITE = 'server/faults/cluster-faults.test.ts';
vitestStep('unit and integration tests (vitest)', 'vitest.json', ['--exclude', FAULT_SUITE]);
vitestStep('fault suite (vitest, alone)', 'vitest-faults.json', [FAULT_SUITE]);

const playwrightReport = join(reports, 'playwright.json');
rmSync(playwrightReport, { force: true });
const playwrightOk = step('end-to-end tests (Playwright)', 'npx', ['playwright', 'test', '--reporter=list,json'], {
  PLAYWRIGHT_JSON_OUTPUT_NAME: playwrightReport,
});
const playwright = readJson(playwrightReport);
if (playwright) {
  passed += playwright.stats.expected + playwright.stats.flaky;
  failed += playwright.stats.unexpected;
  const visit = (suite, path) => {
    const here = suite.title ? [...path, suite.title] : path;
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests) {
        if (test.status !== 'unexpected' && test.status !== 'flaky') continue;
        const error = test.results.find((result) => result.error)?.error?.message;
        const label = test.status === 'flaky' ? 'flaky, passed on retry' : 'failed';
        failures.push(`playwright ${[...here, spec.title].join(' › ')} (${label}): ${firstLine(error)}`);
      }
    }
    for (const child of suite.suites ?? []) visit(child, here);
  };
  for (const suite of playwright.suites) visit(suite, []);
  for (const error of playwright.errors ?? []) failures.push(`playwright: ${firstLine(error.message)}`);
}
if (!playwrightOk && !playwright?.stats.unexpected) {
  failed += 1;
  failures.push('playwright run');
}

// Benchmarks run here only in smoke mode (small and short): they show the
// benchmark still works; the figures that count come from `npm run bench`.
if (step('benchmarks, smoke mode', 'npm', ['run', '--silent', 'bench', '--', '--smoke'])) passed += 1;
else {
  failed += 1;
  failures.push('benchmarks, smoke mode');
}

if (failures.length > 0) {
  process.stdout.write(`\n== what failed (or passed only on retry)\n`);
  for (const failure of failures) process.stdout.write(`- ${failure}\n`);
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
