// What the roster-UI benchmark measures inside the page, installed before the
// page's own scripts run: every animation frame's time; long tasks; when the
// table first holds every agent; and, once asked to observe, which table rows
// the page's DOM writes touch — per MutationObserver callback, the distinct
// <tr> elements written to, apart from writes to the ticking time cells, which
// change once a second or minute whatever else happens — and when each row's
// status attribute changed. The bench reads it all with `read()`.

export type ProbeOptions = {
  expectedRows: number;
  /** Header texts of the columns whose cells tick with the clock. */
  clockColumns: string[];
};

export type ProbeData = {
  /** performance.now() of the first frame at which the table held every expected row. */
  firstFullRenderMs: number | null;
  /** When each animation frame callback ran (performance.now()). */
  frames: number[];
  longTasks: Array<{ start: number; duration: number }>;
  /** MutationObserver callbacks that touched at least one row outside the clock cells. */
  callbacks: number;
  /** Sum over callbacks of the distinct rows touched outside the clock cells. */
  rowTouches: number;
  /** The most rows one callback touched outside the clock cells. */
  maxRowsInOneCallback: number;
  /** Sum over callbacks of the distinct rows whose clock cells (only) were written. */
  clockRowTouches: number;
  /** Each row status change seen: agent name, new status, epoch ms. */
  statusSeen: Array<{ name: string; status: string; at: number }>;
  domNodes: number;
  rows: number;
};

/** The probe, as an init script: a self-contained function serialised into the page. */
export function probeScript(options: ProbeOptions): string {
  // tsx (esbuild, keepNames) wraps named functions in __name(); the page has no such helper.
  return `var __name = (target) => target;\n(${installProbe.toString()})(${JSON.stringify(options)});`;
}

function installProbe(options: ProbeOptions): void {
  const frames: number[] = [];
  const longTasks: ProbeData['longTasks'] = [];
  const statusSeen: ProbeData['statusSeen'] = [];
  let firstFullRenderMs: number | null = null;
  let callbacks = 0;
  let rowTouches = 0;
  let maxRowsInOneCallback = 0;
  let clockRowTouches = 0;
  let observer: MutationObserver | undefined;

  // The table may split its rows over several <tbody> elements.
  const rowCount = () => {
    const table = document.querySelector<HTMLTableElement>('table[aria-label="Agents"]');
    let rows = 0;
    for (const body of table?.tBodies ?? []) rows += body.rows.length;
    return rows;
  };

  // The time the callback runs, not the frame's begin time it is passed: a
  // busy main thread delays the callback, and that delay is what is measured.
  const frame = () => {
    frames.push(performance.now());
    if (firstFullRenderMs === null && rowCount() >= options.expectedRows) firstFullRenderMs = performance.now();
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);

  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });

  const clockCells = (table: HTMLTableElement) => {
    const indexes = new Set<number>();
    table.querySelectorAll('thead th').forEach((th, i) => {
      if (options.clockColumns.includes(th.textContent?.trim() ?? '')) indexes.add(i);
    });
    return indexes;
  };

  const observe = () => {
    const table = document.querySelector<HTMLTableElement>('table[aria-label="Agents"]');
    if (!table) throw new Error('no Agents table');
    const clock = clockCells(table);
    observer = new MutationObserver((records) => {
      const touched = new Set<Element>();
      const ticked = new Set<Element>();
      for (const record of records) {
        const target = record.target instanceof Element ? record.target : record.target.parentElement;
        if (!target) continue;
        if (target.tagName === 'TBODY' && record.type === 'childList') {
          // Rows added, removed or moved.
          for (const node of [...record.addedNodes, ...record.removedNodes]) if (node instanceof HTMLTableRowElement) touched.add(node);
          continue;
        }
        const row = target.closest('tbody tr');
        if (!row) continue;
        const cell = target.closest('td, th');
        if (cell instanceof HTMLTableCellElement && clock.has(cell.cellIndex)) ticked.add(row);
        else touched.add(row);
        if (record.type === 'attributes' && record.attributeName === 'data-status' && target === row) {
          statusSeen.push({
            name: row.getAttribute('aria-label') ?? '',
            status: row.getAttribute('data-status') ?? '',
            at: performance.timeOrigin + performance.now(),
          });
        }
      }
      for (const row of touched) ticked.delete(row);
      if (touched.size) callbacks += 1;
      rowTouches += touched.size;
      clockRowTouches += ticked.size;
      maxRowsInOneCallback = Math.max(maxRowsInOneCallback, touched.size);
    });
    observer.observe(table, { subtree: true, childList: true, characterData: true, attributes: true });
  };

  const read = (): ProbeData => ({
    firstFullRenderMs,
    frames: [...frames],
    longTasks: [...longTasks],
    callbacks,
    rowTouches,
    maxRowsInOneCallback,
    clockRowTouches,
    statusSeen: [...statusSeen],
    domNodes: document.getElementsByTagName('*').length,
    rows: rowCount(),
  });

  Object.assign(window, {
    __rosterProbe: {
      observe,
      stop: () => observer?.disconnect(),
      read,
    },
  });
}
