/** CPU and memory figures from /proc (Linux), for explaining the numbers, not judging them. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { descendants } from '../test/helpers/processes.js';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user+system CPU seconds used so far by one process (threads included). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU seconds per thread of a process, by "comm/tid" ("main" for the main thread). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(tid === String(pid) ? 'main' : `${st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))}/${tid}`, (Number(rest[11]) + Number(rest[12])) / CLK_TCK);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** CPU seconds of this process' reaped children (e.g. ssh clients that exited): cutime + cstime. */
export function reapedChildrenCpuSeconds(): number {
  const rest = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(rest[13]) + Number(rest[14])) / CLK_TCK;
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export interface CpuSnapshot {
  /** All non-idle time, interrupts included. */
  busy: number;
  /** user + nice + system only: the time that is charged to processes. */
  tasks: number;
  total: number;
}

/** Machine-wide jiffies from the first line of /proc/stat. */
export function cpuSnapshot(): CpuSnapshot {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, tasks: (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0), total };
}

/** Fraction (0..1) of ALL cores that were busy between two snapshots. */
export function busyFraction(a: CpuSnapshot, b: CpuSnapshot): number {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : NaN;
}

function ownAndChildrenSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: fields 14-17. cutime/cstime hold reaped children.
    return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / CLK_TCK;
  } catch {
    return 0; // exited between the scan and the read: its time is in its parent's cutime soon
  }
}

/**
 * CPU seconds used by this process and everything it started (Warden, sshd and their session
 * processes, ssh clients, redis), reaped children included. A child reaped during the scan
 * moves its time into its parent's cutime, possibly after the parent was read: such a scan
 * is repeated, so a snapshot is taken while no descendant disappeared.
 */
export function treeCpuSeconds(rootPid = process.pid): number {
  let sum = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = [rootPid, ...descendants(rootPid)];
    sum = before.reduce((acc, pid) => acc + ownAndChildrenSeconds(pid), 0);
    const after = new Set([rootPid, ...descendants(rootPid)]);
    if (before.every((pid) => after.has(pid))) return sum;
  }
  return sum;
}

export interface LoadMeter {
  /** Share of all cores used by processes that are NOT ours since the meter started (0..1). */
  foreign(): number;
}

/**
 * Other people's load on the machine: all busy CPU minus our own process tree. The machine is
 * shared (other engineers' test runs); a figure well above 0 means the numbers are noisy.
 */
export function startLoadMeter(): LoadMeter {
  const cpu0 = cpuSnapshot();
  const own0 = treeCpuSeconds();
  return {
    foreign() {
      const cpu1 = cpuSnapshot();
      const own = treeCpuSeconds() - own0;
      const total = (cpu1.total - cpu0.total) / CLK_TCK; // all cores
      // Interrupt time (loopback TCP runs in softirq) is charged to no process: leave it out.
      const tasks = (cpu1.tasks - cpu0.tasks) / CLK_TCK;
      return total > 0 ? Math.max(0, (tasks - own) / total) : NaN;
    },
  };
}
