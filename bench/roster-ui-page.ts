// The roster page under test: Debian's Chromium, launched as
// playwright.config.ts launches it, signed in as the admin by cookie, with the
// probe (bench/roster-ui-probe.ts) installed before /roster loads; and what
// the bench reads from it: the page's clock, its main-thread time and JS heap
// (CDP), the probe's data, the counts it shows and each row's status.
import { chromium, type Page } from '@playwright/test';
import { SESSION_COOKIE } from '../server/auth/service';
import type { MainThread } from './roster-ui-report';
import { probeScript, type ProbeData } from './roster-ui-probe';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'cc', 'gpu', 'viz'];

export type RosterPage = {
  /** The page's performance.now(). */
  now: () => Promise<number>;
  mainThread: () => Promise<MainThread>;
  /** JS heap used after a forced garbage collection, in bytes. */
  heapUsed: () => Promise<number>;
  /** Starts counting the rows that DOM writes touch. */
  observe: () => Promise<void>;
  /** Stops counting and returns everything the probe holds. */
  read: () => Promise<ProbeData>;
  /** The counts by status the page shows ("available" → 12). */
  counts: () => Promise<Record<string, number>>;
  /** How many of these agents' rows do not show the given status. */
  mismatches: (expected: ReadonlyArray<[name: string, status: string]>) => Promise<number>;
  startTrace: (path: string) => Promise<void>;
  stopTrace: () => Promise<void>;
  close: () => Promise<void>;
};

/** Opens /roster as the admin; resolves once the table holds `expectedRows` rows. */
export async function openRosterPage(options: { url: string; adminToken: string; expectedRows: number; timeoutMs: number }): Promise<RosterPage> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ baseURL: options.url });
    await context.addCookies([{ name: SESSION_COOKIE, value: options.adminToken, url: options.url }]);
    await context.addInitScript({ content: probeScript({ expectedRows: options.expectedRows, clockColumns: ['In status', 'Last seen'] }) });
    const page: Page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');

    await page.goto('/roster');
    // Polled from here: waitForFunction's in-page polling compiles its predicate with eval,
    // which the page's Content Security Policy (rightly) refuses.
    const deadline = Date.now() + options.timeoutMs;
    while (!(await page.evaluate<boolean>('window.__rosterProbe.read().firstFullRenderMs !== null'))) {
      if (Date.now() > deadline) throw new Error(`the roster did not show ${options.expectedRows} rows within ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    return {
      now: () => page.evaluate<number>('performance.now()'),
      mainThread: async () => {
        const { metrics } = await cdp.send('Performance.getMetrics');
        const ms = (name: string) => (metrics.find((m) => m.name === name)?.value ?? 0) * 1000;
        return { taskMs: ms('TaskDuration'), scriptMs: ms('ScriptDuration'), layoutMs: ms('LayoutDuration'), styleMs: ms('RecalcStyleDuration') };
      },
      heapUsed: async () => {
        await cdp.send('HeapProfiler.collectGarbage');
        return (await cdp.send('Runtime.getHeapUsage')).usedSize;
      },
      observe: () => page.evaluate<void>('window.__rosterProbe.observe()'),
      read: async () => {
        await page.evaluate('window.__rosterProbe.stop()');
        return page.evaluate<ProbeData>('window.__rosterProbe.read()');
      },
      counts: () =>
        page.evaluate<Record<string, number>>(
          `Object.fromEntries([...document.querySelectorAll('[aria-label="Counts by status"] .badge')].map((badge) => {
             const [label, count] = badge.textContent.split(':');
             return [label.trim().toLowerCase(), Number(count)];
           }))`,
        ),
      mismatches: (expected) =>
        page.evaluate((pairs: ReadonlyArray<[string, string]>) => {
          const shown = new Map<string, string>();
          for (const row of document.querySelectorAll('table[aria-label="Agents"] tbody tr')) {
            shown.set(row.getAttribute('aria-label') ?? '', row.getAttribute('data-status') ?? '');
          }
          return pairs.filter(([name, status]) => shown.get(name) !== status).length;
        }, expected),
      startTrace: (path) => browser.startTracing(page, { path, categories: TRACE_CATEGORIES }),
      stopTrace: async () => void (await browser.stopTracing()),
      close: () => browser.close(),
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
