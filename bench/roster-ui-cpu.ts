// CPU use over a window, from /proc (Linux only): the whole machine's, and that
// of the processes this benchmark started, by kind (Chromium, the node,
// PostgreSQL, the bench itself). Frame times measured in a page depend on the
// CPU the page gets; this says whether the machine was busy with the run or
// with something else.
import { readdirSync, readFileSync } from 'node:fs';
import { CLOCK_TICKS_PER_SECOND } from './lib/process-stats';

export const KINDS = ['chromium', 'node', 'postgres', 'bench'] as const;
export type Kind = (typeof KINDS)[number];
export type CpuReading = { at: number; machineBusy: number; byKind: Record<Kind, number> };
/** Cores in use on average over a window (2.0 = two cores busy all the time). */
export type CpuUse = { machine: number; others: number } & Record<Kind, number>;

type Proc = { pid: number; comm: string; parent: number; ticks: number };

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      // After the command: state, ppid (field 4), … utime (14), stime (15).
      out.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, close), parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Busy ticks of the whole machine (all cores) from /proc/stat. */
function machineBusyTicks(): number {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  const [, ...values] = (cpu ?? '').trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values;
  return user + nice + system + irq + softirq + steal;
}

/**
 * CPU ticks so far of this process and its descendants, by kind: Chromium's
 * processes by name, the node by its process tree, PostgreSQL by name, and
 * the rest (this bench, npm) as the bench. Processes that ended between two
 * readings drop out, so a window's figures are a lower bound.
 */
export function readCpu(nodePid: number | undefined): CpuReading {
  const all = processes();
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.parent, [...(children.get(p.parent) ?? []), p]);
  const byKind: Record<Kind, number> = { chromium: 0, node: 0, postgres: 0, bench: 0 };
  const walk = (p: Proc, inherited: Kind | undefined) => {
    const kind: Kind = p.pid === nodePid ? 'node' : (inherited ?? (/^chrom/i.test(p.comm) ? 'chromium' : /^postgres/.test(p.comm) ? 'postgres' : 'bench'));
    byKind[kind] += p.ticks;
    for (const child of children.get(p.pid) ?? []) walk(child, kind === 'bench' || kind === 'postgres' ? undefined : kind);
  };
  const self = all.find((p) => p.pid === process.pid);
  if (self) walk(self, undefined);
  return { at: performance.now(), machineBusy: machineBusyTicks(), byKind };
}

export function cpuUse(from: CpuReading, to: CpuReading): CpuUse {
  const seconds = (to.at - from.at) / 1000;
  const cores = (ticks: number) => ticks / CLOCK_TICKS_PER_SECOND / seconds;
  const byKind = Object.fromEntries(KINDS.map((k) => [k, cores(to.byKind[k] - from.byKind[k])])) as Record<Kind, number>;
  const machine = cores(to.machineBusy - from.machineBusy);
  const ours = KINDS.reduce((sum, k) => sum + byKind[k], 0);
  return { machine, others: Math.max(0, machine - ours), ...byKind };
}
