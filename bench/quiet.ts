/**
 * The machine may be shared (other engineers' test runs on the same 2 cores). `settle()`
 * waits, up to a budget, until processes outside the benchmark leave the CPU alone, so each
 * repetition starts on a quiet machine; the report states what others used anyway.
 */
import { loadavg } from 'node:os';
import { sleep } from '../test/helpers/processes.js';
import { startLoadMeter, treeCpuSeconds } from './proc-stats.js';

const QUIET = 0.1; // others below 10% of all cores

/** Others' share of all cores over one window. */
export async function othersShare(windowMs: number): Promise<number> {
  const meter = startLoadMeter();
  await sleep(windowMs);
  return meter.foreign();
}

export function describeLoad(share: number): string {
  return `${(share * 100).toFixed(0)}% of all cores (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`;
}

/**
 * Wait until others use < 10% over a window, for at most `budgetSeconds` (0: just measure
 * once). Returns a description of the last window.
 */
export async function waitQuiet(
  budgetSeconds: number,
  windowMs: number,
  signal: AbortSignal,
  progress?: (m: string) => void,
): Promise<{ share: number; waitedSeconds: number }> {
  const t0 = Date.now();
  for (;;) {
    const share = await othersShare(windowMs);
    const waited = (Date.now() - t0) / 1000;
    if (share < QUIET || waited >= budgetSeconds || signal.aborted) return { share, waitedSeconds: waited };
    progress?.(`waiting for a quiet machine: other processes use ${describeLoad(share)}`);
  }
}

/**
 * Wait until the benchmark's own processes are idle (< 5% of one core over 500 ms), for at
 * most `maxSeconds`. Warden keeps working after a session ends (it gzips and hashes the
 * session's recording): that must not land on the next path's measurement.
 */
export async function waitOwnIdle(maxSeconds: number, signal: AbortSignal): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const cpu0 = treeCpuSeconds();
    await sleep(500);
    const rate = (treeCpuSeconds() - cpu0) / 0.5;
    const waited = (Date.now() - t0) / 1000;
    if (rate < 0.05 || waited >= maxSeconds || signal.aborted) return waited;
  }
}
