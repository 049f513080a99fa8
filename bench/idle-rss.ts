/**
 * Memory per idle session: Warden's RSS (/proc/PID/status VmRSS) before and after opening
 * N idle pty shells through it (ssh2 clients in this process, a few at a time: 2 cores).
 */
import { sleep } from '../test/helpers/processes.js';
import { openPtyShell, type PtySession } from './pty-session.js';
import { rssKiB } from './proc-stats.js';
import { median } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';

/**
 * Logins in progress at once. Every client here comes from 127.0.0.1, and the shipped
 * admission allows 5 logins in progress per source address (auth.perSourceMaxStartups):
 * more would be refused, which measures the load generator, not memory.
 */
const CONCURRENCY = 4;

/** Median of several VmRSS samples over `ms`: one sample can land mid-GC. */
async function sampleRss(pid: number, ms: number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < 5; i++) {
    values.push(rssKiB(pid));
    await sleep(ms / 5);
  }
  return median(values);
}

async function openMany(ctx: BenchContext, n: number, into: PtySession[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      checkAborted(ctx.signal);
      into.push(await openPtyShell(ctx.env.paths.warden));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
}

export const idleRss: Measurement = {
  name: 'idle-rss',
  title: 'Warden RSS per idle session',
  async run(ctx: BenchContext): Promise<Result> {
    const n = ctx.quick ? 40 : 200;
    const pid = ctx.env.warden.pid;
    const sessions: PtySession[] = [];
    try {
      await ctx.settle();
      // Warm-up: code paths compiled, pools and buffers allocated once.
      const warm: PtySession[] = [];
      await openMany(ctx, 10, warm);
      for (const s of warm) s.close();
      await sleep(3000);
      const before = await sampleRss(pid, 2000);
      const t0 = Date.now();
      await openMany(ctx, n, sessions);
      const openSec = (Date.now() - t0) / 1000;
      ctx.progress(`idle rss: ${sessions.length} sessions open in ${openSec.toFixed(1)} s; settling`);
      await sleep(5000);
      const after = await sampleRss(pid, 3000);
      const per = (after - before) / n;
      return {
        rows: [
          {
            metric: `Warden RSS per idle session (${n})`,
            warden: `${per.toFixed(0)} KiB`,
            ratio: '',
            target: '≤ 100 KiB',
            ok: per <= 100,
          },
        ],
        notes: [
          `VmRSS before ${(before / 1024).toFixed(1)} MiB (after 10 warm-up sessions opened and closed), after ${n} idle pty shells ${(after / 1024).toFixed(1)} MiB; opened ${CONCURRENCY} at a time in ${openSec.toFixed(1)} s.`,
        ],
      };
    } finally {
      for (const s of sessions) s.close();
      await sleep(500);
    }
  },
};
