// Writes the measured part of docs/reliability.md from the fault suite's
// reports (.test-data/reports/faults.json, written by
// server/faults/cluster-faults.test.ts, and faults-cut-off.json, by
// server/faults/node-loses-database.test.ts): one row per fault, with what the
// system promises and what the run measured. `npm run test:faults` runs the
// suite and then this. Uses only Node's own modules.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const reportPath = join(root, '.test-data', 'reports', 'faults.json');
const docPath = join(root, 'docs', 'reliability.md');
const START = '<!-- measured: start (scripts/reliability-report.mjs writes this part) -->';
const END = '<!-- measured: end -->';

if (!existsSync(reportPath)) {
  process.stderr.write(`reliability-report: no ${reportPath}; run the fault suite first (npm run test:faults)\n`);
  process.exit(1);
}
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
// The cut-off node's test (two in-process nodes behind a TCP proxy) reports apart; its rows follow.
const cutOffPath = join(root, '.test-data', 'reports', 'faults-cut-off.json');
const cutOff = existsSync(cutOffPath) ? JSON.parse(readFileSync(cutOffPath, 'utf8')) : { measured: [] };
const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');
const lines = [
  START,
  '',
  `Measured ${report.at.slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}: three node processes, PostgreSQL, the test's ` +
    `${report.tabs.toLocaleString('en')} tabs (and ${report.stormTabs.toLocaleString('en')} more for the storm) all on this one machine. ` +
    `Timing: ${Object.entries(report.timing).map(([k, v]) => `${k}=${v}`).join(', ')}.`,
  '',
  '| Fault | Promise (asserted) | Measured |',
  '| --- | --- | --- |',
  ...[...report.measured, ...cutOff.measured].map(
    (m) => `| ${cell(m.fault)} | ${cell(m.promise)} | ${Object.entries(m.figures).map(([k, v]) => `${cell(k)}: **${cell(v)}**`).join('<br>')} |`,
  ),
  '',
  END,
];
const doc = readFileSync(docPath, 'utf8');
const from = doc.indexOf(START);
const to = doc.indexOf(END);
if (from < 0 || to < from) {
  process.stderr.write(`reliability-report: ${docPath} has no measured section (${START} … ${END})\n`);
  process.exit(1);
}
writeFileSync(docPath, doc.slice(0, from) + lines.join('\n') + doc.slice(to + END.length));
process.stdout.write(`reliability-report: wrote ${report.measured.length + cutOff.measured.length} rows into docs/reliability.md\n`);
