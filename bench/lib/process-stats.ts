// Reads a process's CPU time and resident memory from /proc (Linux only):
// what the benchmarks report about the server process and the database.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of the times in /proc/<pid>/stat (USER_HZ: 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat from field 3 on (index 0 = field 3), or undefined if the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const field = (fields: string[], number: number) => Number(fields[number - 3]);

/** User + system CPU time of one process (all its threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  if (!fields) throw new Error(`process ${pid} is gone`);
  return field(fields, 14) + field(fields, 15);
}

/**
 * CPU time of a process and its children, in clock ticks: its own time, the
 * time of children it has already reaped (cutime + cstime), and the time of
 * children still running. Suits PostgreSQL, whose postmaster forks a
 * process per connection. Undefined if the process is gone.
 */
export function treeCpuTicks(rootPid: number): number | undefined {
  const root = statFields(rootPid);
  if (!root) return undefined;
  let ticks = field(root, 14) + field(root, 15) + field(root, 16) + field(root, 17);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields && field(fields, 4) === rootPid) ticks += field(fields, 14) + field(fields, 15);
  }
  return ticks;
}

/** Resident set size of one process (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The parent of a process (field 4 of /proc/<pid>/stat), or undefined if it is gone. */
export function parentPid(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? field(fields, 4) : undefined;
}

/**
 * CPU time the machine's processes have spent (all cores: user, nice, system,
 * steal; not idle, iowait, or interrupt time, which is charged to no process
 * and on a loopback benchmark is mostly its own network traffic), in clock
 * ticks, from /proc/stat. Less what the benchmark's own processes used, it
 * shows how busy others kept the machine during a window.
 */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , , , steal] = line.trim().split(/\s+/).map(Number);
  return [user, nice, system, steal].reduce<number>((sum, n) => sum + (n ?? 0), 0);
}
