/**
 * Idle sessions at scale (issue 12 parts 3 and 5): N idle pty shells through Warden (1000; 100
 * with --quick), opened by ssh2 clients in this process at bounded concurrency from two loopback
 * source addresses (the shipped admission allows 5 logins in progress per address and drops at
 * random past 10 in total: 2 × 4 stays under both). Then, on the same sessions:
 *
 * - memory: Warden's VmRSS before and after, per session;
 * - CPU while they sit idle: Warden's user+system time over IDLE_CPU_MS, as % of one core;
 * - `warden sessions` (the registry) against the established TCP connections to Warden's port;
 * - after all clients close: every one of their records is final (out of the live set, state
 *   finished, with an end reason).
 */
import { readFileSync } from 'node:fs';
import { openIdleShells, establishedTo, type IdleShell } from '../test/helpers/idle-shells.js';
import { sleep } from '../test/helpers/processes.js';
import { runCli } from '../test/helpers/warden-process.js';
import type { SessionRecord } from '../src/session-record.js';
import { CRYPTO } from './crypto.js';
import { processCpuSeconds, rssKiB } from './proc-stats.js';
import { wardenLogin } from './setup.js';
import { median } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';
import type { BenchWarden } from './warden-process.js';

const SOURCES = 2;
const PER_SOURCE = 4;
const IDLE_CPU_MS = 10_000;

/** Median of several VmRSS samples over `ms`: one sample can land mid-GC. */
async function sampleRss(pid: number, ms: number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < 5; i++) {
    values.push(rssKiB(pid));
    await sleep(ms / 5);
  }
  return median(values);
}

/**
 * VmRSS once it has settled. After a burst of logins the heap holds their garbage until V8's
 * memory reducer runs a full GC, some 10-20 s after the allocations stop: a sample taken earlier
 * measured that garbage (in the baseline too), not the sessions. So: samples 5 s apart until two
 * in a row differ by under 1% (at most `maxMs`), the same rule before and after opening.
 */
export async function settledRss(pid: number, maxMs = 60_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = await sampleRss(pid, 2000);
  let steady = 0;
  while (steady < 2 && Date.now() < deadline) {
    await sleep(3000);
    const now = await sampleRss(pid, 2000);
    steady = Math.abs(now - last) < last * 0.01 ? steady + 1 : 0;
    last = now;
  }
  return last;
}

interface Listing {
  live: SessionRecord[];
  recent: SessionRecord[];
}

/** `warden sessions --json` against the bench Warden's Redis, as an operator would run it. */
async function sessions(w: BenchWarden, recent = 0): Promise<Listing> {
  const args = ['sessions', '--json', '--config', w.configFile, ...(recent ? ['--all', '--limit', String(recent)] : [])];
  const r = await runCli(args, 60_000);
  if (r.code !== 0) throw new Error(`warden ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-300)}`);
  return JSON.parse(r.stdout) as Listing;
}

export const idleRss: Measurement = {
  name: 'idle-rss',
  title: 'Idle sessions at scale: RSS, idle CPU, registry vs TCP, final records',
  async run(ctx: BenchContext): Promise<Result> {
    const n = ctx.quick ? 100 : 1000;
    const w = ctx.env.warden;
    const endpoint = { port: w.port, username: wardenLogin('web1'), privateKey: readFileSync(w.aliceKey), algorithms: CRYPTO.equal.ssh2 };
    const open: IdleShell[] = [];
    try {
      await ctx.settle();
      // Warm-up: code paths compiled, pools and buffers allocated once.
      const warm: IdleShell[] = [];
      try {
        await openIdleShells(endpoint, 10, warm, { sources: SOURCES, perSource: PER_SOURCE, signal: ctx.signal });
      } finally {
        for (const s of warm) s.close();
      }
      await sleep(3000);
      const before = await sampleRss(w.pid, 2000);
      const t0 = Date.now();
      await openIdleShells(endpoint, n, open, { sources: SOURCES, perSource: PER_SOURCE, signal: ctx.signal });
      const openSec = (Date.now() - t0) / 1000;
      ctx.progress(`idle sessions: ${open.length} open in ${openSec.toFixed(1)} s; settling`);
      await sleep(5000);
      const after = await sampleRss(w.pid, 3000);
      const per = (after - before) / n;

      checkAborted(ctx.signal);
      const cpu0 = processCpuSeconds(w.pid);
      await sleep(IDLE_CPU_MS);
      const cpuPct = ((processCpuSeconds(w.pid) - cpu0) / (IDLE_CPU_MS / 1000)) * 100;

      const tcp = establishedTo(w.port);
      const live = (await sessions(w)).live;
      const tcpAfter = establishedTo(w.port);
      const ids = new Set(live.map((r) => r.id));

      const t1 = Date.now();
      for (const s of open.splice(0)) s.close();
      let left = live.length;
      while (left > 0 && Date.now() - t1 < 120_000) {
        await sleep(1000);
        left = (await sessions(w)).live.filter((r) => ids.has(r.id)).length;
      }
      const finalSec = (Date.now() - t1) / 1000;
      const recent = (await sessions(w, n + 100)).recent.filter((r) => ids.has(r.id));
      const final = recent.filter((r) => r.state === 'finished' && r.reason !== undefined && r.finish !== undefined).length;
      const reasons = [...new Set(recent.map((r) => r.reason ?? '-'))].join(', ');
      const countsOk = tcp === n && tcpAfter === n && live.length === n;

      return {
        rows: [
          { metric: `Warden RSS per idle session (${n})`, warden: `${per.toFixed(0)} KiB`, ratio: '', target: '≤ 100 KiB', ok: per <= 100 },
          { metric: `Warden CPU while ${n} sessions idle`, warden: `${cpuPct.toFixed(1)}% of a core`, ratio: '', target: '< 5% of a core', ok: cpuPct < 5 },
          { metric: `${n} sessions: \`warden sessions\` vs TCP connections`, warden: `${live.length} vs ${tcp}`, ratio: '', target: `both ${n}`, ok: countsOk },
          { metric: `records final after ${n} sessions closed`, warden: `${final} of ${n}`, ratio: `${finalSec.toFixed(0)} s`, target: 'all', ok: final === n },
        ],
        notes: [
          `VmRSS before ${(before / 1024).toFixed(1)} MiB (after 10 warm-up sessions opened and closed), after ${n} idle pty shells ${(after / 1024).toFixed(1)} MiB.`,
          `${n} sessions opened without an error in ${openSec.toFixed(1)} s, ${SOURCES * PER_SOURCE} logins at a time from ${SOURCES} loopback addresses (${PER_SOURCE} each).`,
          `Idle CPU: Warden's user+system time over ${IDLE_CPU_MS / 1000} s with every session idle.`,
          `Established TCP connections to Warden's port: ${tcp} before and ${tcpAfter} after reading \`warden sessions\` (${live.length} live).`,
          `After the clients closed: the live set was empty of them after ${finalSec.toFixed(1)} s; their records in the history: ${recent.length}, final ${final}, end reasons: ${reasons}.`,
        ],
      };
    } finally {
      for (const s of open) s.close();
      await sleep(500);
    }
  },
};
