// The roster-UI benchmark: how smoothly /roster stays live with thousands of
// agents. One real Switchboard node (its own process, pages served from the
// production build) on a fresh database with N agents in teams and an admin;
// one WebSocket device per agent; Debian's Chromium opens /roster as the
// admin. Measured in the page (bench/roster-ui-probe.ts): time until the
// table holds every agent, frame gaps while idle and while agents change
// status at a steady rate through presence.setStatus, long tasks, table rows
// the DOM writes touch per change, and the JS heap. The report (table,
// targets, notes) is bench/roster-ui-report.ts. BENCH_TRACE=<file> also
// writes a Chromium trace of the change window (open it in chrome://tracing
// or Perfetto) for finding where the page's time goes.
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres } from '../db/embedded';
import { ROOT, spawnNode, type NodeProcess } from '../server/testing/spawn-node';
import { AgentDevices, type Status } from './roster-ui-agents';
import { cpuUse, readCpu } from './roster-ui-cpu';
import { openRosterPage, type RosterPage } from './roster-ui-page';
import { writeReport, type Change, type Measured } from './roster-ui-report';
import { seedRoster, spreadSince, statusCounts } from './roster-ui-seed';
import { createFreshDatabase, dropDatabase } from './presence-seed';
import { Cleanups, progress } from './lib/cleanups';

export type Size = {
  name: 'smoke' | 'full';
  agents: number;
  teams: number;
  /** After the table first holds every agent, before anything is measured. */
  settleMs: number;
  /** Nothing but the clock ticking. */
  idleMs: number;
  changesPerSecond: number;
  changeMs: number;
};

export const SIZES: Record<Size['name'], Size> = {
  smoke: { name: 'smoke', agents: 300, teams: 6, settleMs: 1_000, idleMs: 1_000, changesPerSecond: 50, changeMs: 5_000 },
  full: { name: 'full', agents: 2_000, teams: 20, settleMs: 3_000, idleMs: 5_000, changesPerSecond: 50, changeMs: 20_000 },
};

const DATABASE_NAME = 'bench_roster_ui';
const CONNECT_BATCH = 200;
const ATTACH_TIMEOUT_MS = 30_000;
/** Initial statuses are set this many at a time. */
const SETUP_IN_FLIGHT = 100;
/** How far back "in status since" is spread, as on a desk that has been open a while. */
const SINCE_SPREAD_HOURS = 8;
const FIRST_RENDER_TIMEOUT_MS = 60_000;
const REFLECT_TIMEOUT_MS = 15_000;
/** The changes' pseudo-random sequence is the same on every run. */
const SEED = 20_260_101;
const CHOOSABLE: readonly Status[] = ['available', 'busy', 'away'];


const say = progress('roster-ui');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** mulberry32: a small seeded generator, so that every run makes the same changes. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Runs the benchmark and writes the report; resolves with whether the run counts as passed. */
export async function runRosterUi(options: { smoke: boolean; command: string }): Promise<boolean> {
  const started = performance.now();
  const size = options.smoke ? SIZES.smoke : SIZES.full;
  const cleanups = new Cleanups(say);
  const releaseSignals = cleanups.onSignals();

  let measured: Measured | { broken: string };
  let node: NodeProcess | undefined;
  const external = Boolean(process.env.BENCH_ADMIN_DATABASE_URL);
  try {
    checkPagesBuilt();
    const adminUrl = await database(cleanups);
    const url = await createFreshDatabase(adminUrl, DATABASE_NAME);
    if (external) cleanups.push(() => dropDatabase(adminUrl, DATABASE_NAME));
    const seedStarted = performance.now();
    const seeded = await seedRoster(url, { agents: size.agents, teams: size.teams });
    say(`seeded ${size.agents} agents in ${size.teams} teams in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

    const running = (node = await spawnNode({ DATABASE_URL: url, SEED: 'none', NODE_NAME: 'bench-roster-ui' }));
    cleanups.push(() => running.stop('SIGTERM'));
    say(`node pid ${running.child.pid} at ${running.url}`);

    const devices = new AgentDevices({
      url: `${running.url.replace(/^http/, 'ws')}/api/trpc`,
      tokens: seeded.agents.map((a) => a.token),
      attachTimeoutMs: ATTACH_TIMEOUT_MS,
    });
    cleanups.push(() => devices.close());
    const connected = await devices.connectAll(CONNECT_BATCH);
    say(`attached ${connected.attached}/${size.agents} devices`);
    if (connected.attached < size.agents) throw new Error(`only ${connected.attached} of ${size.agents} devices attached: ${connected.failures.slice(0, 3).join('; ')}`);

    const next = random(SEED);
    const current = seeded.agents.map(() => CHOOSABLE[Math.floor(next() * CHOOSABLE.length)] ?? 'available');
    await inBatches(current.length, SETUP_IN_FLIGHT, (i) => devices.setStatus(i, current[i] ?? 'available'));
    await spreadSince(url, SINCE_SPREAD_HOURS);
    say('initial statuses set and spread over the last hours');

    const page = await openRosterPage({ url: running.url, adminToken: seeded.adminToken, expectedRows: size.agents, timeoutMs: FIRST_RENDER_TIMEOUT_MS });
    cleanups.push(() => page.close());
    say('the table holds every agent');
    measured = await measure(page, { size, url, serverPid: running.child.pid, names: seeded.agents.map((a) => a.name), devices, current, next });
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    say(`broke: ${message}`);
    measured = { broken: message };
  } finally {
    releaseSignals();
    await cleanups.run();
  }
  const { passed, file } = writeReport(measured, {
    size,
    command: options.command,
    external,
    wallSeconds: (performance.now() - started) / 1000,
    serverOutput: node?.output() ?? '',
  });
  say(`report written to ${file}`);
  return passed;
}

/**
 * On the open page: settle, an idle window, then the change window, each
 * with the page's main-thread time and the machine's CPU around it; then wait
 * for every change to show and read what the page saw.
 */
async function measure(
  page: RosterPage,
  run: { size: Size; url: string; serverPid: number | undefined; names: string[]; devices: AgentDevices; current: Status[]; next: () => number },
): Promise<Measured> {
  const { size, serverPid } = run;
  await sleep(size.settleMs);
  const heapAfterRender = await page.heapUsed();

  const idle = { start: await page.now(), thread: await page.mainThread(), cpu: readCpu(serverPid) };
  await sleep(size.idleMs);
  const idleCpuEnd = readCpu(serverPid);
  const idleThreadEnd = await page.mainThread();
  const idleEnd = await page.now();

  await page.observe();
  const changes = { start: await page.now(), thread: await page.mainThread(), cpu: readCpu(serverPid) };
  const trace = process.env.BENCH_TRACE;
  if (trace) await page.startTrace(trace);
  const drive = await driveChanges(run.devices, run.current, size, run.next);
  const changeCpuEnd = readCpu(serverPid);
  if (trace) await page.stopTrace();
  const changeThreadEnd = await page.mainThread();
  const changeEnd = await page.now();
  say(`sent ${drive.changes.length} changes: ${drive.applied} applied, ${drive.unchanged} unchanged, ${drive.errors.length} errors`);

  const final = new Map<string, Status>();
  for (const change of drive.changes) final.set(run.names[change.index] ?? '', change.status);
  const mismatched = await waitUntilShown(page, final);
  const reflectedAt = await page.now();
  const probe = await page.read();
  return {
    size,
    agents: size.agents,
    probe,
    windows: { idle: [idle.start, idleEnd], changes: [changes.start, changeEnd], reflectedAt },
    mainThread: { idle: [idle.thread, idleThreadEnd], changes: [changes.thread, changeThreadEnd] },
    cpu: { idle: cpuUse(idle.cpu, idleCpuEnd), changes: cpuUse(changes.cpu, changeCpuEnd) },
    heapAfterRender,
    heapAfterChanges: await page.heapUsed(),
    changes: drive.changes.map((c) => ({ ...c, name: run.names[c.index] ?? '' })),
    applied: drive.applied,
    errors: drive.errors,
    agentsChanged: final.size,
    mismatched,
    counts: { page: await page.counts(), database: await statusCounts(run.url) },
  };
}

/** The admin URL of the PostgreSQL to use: BENCH_ADMIN_DATABASE_URL, else an embedded one in .test-data. */
async function database(cleanups: Cleanups): Promise<string> {
  const external = process.env.BENCH_ADMIN_DATABASE_URL;
  if (external) {
    say('using the PostgreSQL at BENCH_ADMIN_DATABASE_URL');
    return external;
  }
  const base = join(ROOT, '.test-data');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dataDir = mkdtempSync(join(base, 'bench-ui-'));
  chmodSync(dataDir, 0o755);
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  say(`starting embedded PostgreSQL in ${dataDir}`);
  const embedded = await startEmbeddedPostgres({ dataDir });
  cleanups.push(() => embedded.stop());
  return embedded.url('postgres');
}

/**
 * The node serves the production build of the pages, which must exist. A
 * build older than a file in app/ may be stale (or the files were only
 * touched: prepare.mjs compares contents), so that is a warning.
 */
function checkPagesBuilt(): void {
  const buildId = join(ROOT, '.next', 'BUILD_ID');
  if (!existsSync(buildId)) throw new Error('the pages are not built: run `node scripts/prepare.mjs build` (or `npm start`) first');
  const newest = (path: string): number =>
    statSync(path).isDirectory() ? Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry)))) : statSync(path).mtimeMs;
  if (newest(join(ROOT, 'app')) > statSync(buildId).mtimeMs) {
    say('warning: app/ has files newer than the pages build; run `node scripts/prepare.mjs build` if they changed');
  }
}

async function inBatches(count: number, inFlight: number, run: (index: number) => Promise<unknown>): Promise<void> {
  for (let first = 0; first < count; first += inFlight) {
    await Promise.all(Array.from({ length: Math.min(inFlight, count - first) }, (_, i) => run(first + i)));
  }
}

/**
 * Status changes at a steady rate for the window: each a random agent
 * choosing a status other than its current one, so that every change shows.
 */
async function driveChanges(
  devices: AgentDevices,
  current: Status[],
  size: Size,
  next: () => number,
): Promise<{ changes: Array<Omit<Change, 'name'>>; applied: number; unchanged: number; errors: string[] }> {
  const total = Math.round((size.changesPerSecond * size.changeMs) / 1000);
  const intervalMs = 1000 / size.changesPerSecond;
  const changes: Array<Omit<Change, 'name'>> = [];
  const answers: Array<Promise<void>> = [];
  const errors: string[] = [];
  let applied = 0;
  let unchanged = 0;
  const start = performance.now();
  for (let i = 0; i < total; i += 1) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const index = Math.floor(next() * current.length);
    const others = CHOOSABLE.filter((s) => s !== current[index]);
    const status = others[Math.floor(next() * others.length)] ?? 'available';
    current[index] = status;
    changes.push({ index, status, sentAt: Date.now() });
    answers.push(
      devices.setStatus(index, status).then(
        (result) => void (result.changed ? (applied += 1) : (unchanged += 1)),
        (error: unknown) => void errors.push(error instanceof Error ? error.message : String(error)),
      ),
    );
  }
  await Promise.all(answers);
  return { changes, applied, unchanged, errors };
}

/** Waits until every changed agent's row shows its last status; resolves with how many never did. */
async function waitUntilShown(page: RosterPage, final: Map<string, Status>): Promise<number> {
  const expected = [...final];
  const deadline = performance.now() + REFLECT_TIMEOUT_MS;
  for (;;) {
    const mismatched = await page.mismatches(expected);
    if (mismatched === 0 || performance.now() > deadline) return mismatched;
    await sleep(100);
  }
}
