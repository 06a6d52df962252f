// Makes a checkout ready to run, using only Node's own modules (it runs before
// any dependency is installed): installs dependencies when node_modules does not
// match package-lock.json, and with `build`, builds the pages when their
// sources changed since the last build. Used by `npm start` and `npm test`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const say = (line) => process.stdout.write(`prepare: ${line}\n`);

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`prepare: Node ${process.versions.node} is too old; Switchboard needs Node 20.19 or newer\n`);
  process.exit(1);
}

function hashOf(paths) {
  const hash = createHash('sha256');
  const walk = (path) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) walk(join(path, entry));
    } else {
      hash.update(path.slice(root.length)).update(readFileSync(path));
    }
  };
  for (const p of paths) walk(join(root, p));
  return hash.digest('hex');
}

function run(command, args, env = {}) {
  execFileSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
}

// 1. Dependencies.
const lockHash = hashOf(['package-lock.json']);
const installedMark = join(root, 'node_modules', '.switchboard-installed');
if (!existsSync(installedMark) || readFileSync(installedMark, 'utf8') !== lockHash) {
  say('installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(installedMark, lockHash);
}
// A checkout installed before a mend was added gets it too (idempotent; decision 036).
run(process.execPath, ['scripts/patch-dependencies.mjs']);

// 2. The production build of the pages.
if (process.argv.includes('build')) {
  const sourceHash = hashOf(['app', 'next.config.js', 'tsconfig.json', 'package-lock.json']);
  const builtMark = join(root, '.next', 'switchboard-source-hash');
  const fresh = existsSync(join(root, '.next', 'BUILD_ID')) && existsSync(builtMark) && readFileSync(builtMark, 'utf8') === sourceHash;
  if (!fresh) {
    say('building the pages (next build)');
    run('npx', ['next', 'build'], { NEXT_TELEMETRY_DISABLED: '1' });
    writeFileSync(builtMark, sourceHash);
  }
}
