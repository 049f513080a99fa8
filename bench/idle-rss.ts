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
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { openIdleShells, establishedTo, type IdleShell, type IdleShellEndpoint } from '../test/helpers/idle-shells.js';
import { sleep } from '../test/helpers/processes.js';
import { runCli } from '../test/helpers/warden-process.js';
import type { SessionRecord } from '../src/session-record.js';
import { CRYPTO } from './crypto.js';
import { processCpuSeconds, rssKiB } from './proc-stats.js';
import { wardenLogin } from './setup.js';
import { median } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';
import { startBenchWarden, type BenchWarden } from './warden-process.js';

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
 * Who holds the connections to `port`: the client side of each (address and process, e.g.
 * "127.0.0.1 (node pid 12) → 500"), and the server sides whose peer has no client socket on
 * this host (a connection Warden holds that no local client does).
 */
function connectionOwners(port: number): string {
  const ss = (filter: string[], p = '') => execFileSync('ss', [`-Htn${p}`, 'state', 'established', ...filter], { encoding: 'utf8' }).split('\n').filter((l) => l.trim());
  const counts = new Map<string, number>();
  const clientEnds = new Set<string>();
  for (const line of ss(['dst', `127.0.0.1:${port}`], 'p')) {
    const local = line.trim().split(/\s+/)[2] ?? '?';
    clientEnds.add(local);
    const proc = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    const key = `${local.replace(/:\d+$/, '')} (${proc ? `${proc[1]} pid ${proc[2]}` : 'no process'})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const orphans = ss(['src', `127.0.0.1:${port}`]).map((l) => l.trim().split(/\s+/)[3] ?? '?').filter((peer) => !clientEnds.has(peer));
  const owners = [...counts].map(([k, v]) => `${k} → ${v}`).join(', ') || 'none';
  return `client sides ${owners}; server sides without a local client: ${orphans.length ? orphans.slice(0, 5).join(', ') : 'none'}`;
}

/** The inspector's WebSocket URL from Warden's log (node --inspect=127.0.0.1:0 prints it). */
function inspectorUrl(w: BenchWarden): string {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(w.log());
  if (!m) throw new Error('no inspector URL in the Warden log');
  return m[1]!;
}

/** A full garbage collection in Warden, through the inspector (HeapProfiler.collectGarbage). */
async function collectGarbage(url: string): Promise<void> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    for (let id = 1; id <= 2; id++) {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (data: Buffer) => {
          if ((JSON.parse(data.toString()) as { id?: number }).id !== id) return;
          ws.off('message', onMessage);
          resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }), (err) => err && reject(err));
      });
    }
  } finally {
    ws.close();
  }
}

/**
 * VmRSS of what the sessions hold. After a burst of logins the heap holds their garbage until
 * V8's memory reducer runs full GCs, at a time of its choosing (seen here: 131 KiB per session
 * 10 s after opening, 0 at 20 s, as start-up garbage in the baseline went too). So before each
 * sample, before and after opening, Warden is made to collect its garbage (the inspector).
 */
async function settledRss(pid: number, inspector: string): Promise<number> {
  await collectGarbage(inspector);
  await sleep(2000);
  return sampleRss(pid, 2000);
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
    // Its own Warden (shipped defaults, as the shared one), with an inspector to trigger GCs.
    const w = await startBenchWarden({ redisUrl: ctx.env.redis.url, target: ctx.env.target, extraYaml: ctx.env.wardenYaml, nodeArgs: ['--inspect=127.0.0.1:0'] });
    const inspector = inspectorUrl(w);
    const endpoint = { port: w.port, username: wardenLogin('web1'), privateKey: readFileSync(w.aliceKey), algorithms: CRYPTO.equal.ssh2 as IdleShellEndpoint['algorithms'] };
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
      const before = await settledRss(w.pid, inspector);
      const t0 = Date.now();
      await openIdleShells(endpoint, n, open, { sources: SOURCES, perSource: PER_SOURCE, signal: ctx.signal });
      const openSec = (Date.now() - t0) / 1000;
      ctx.progress(`idle sessions: ${open.length} open in ${openSec.toFixed(1)} s; settling`);
      const after = await settledRss(w.pid, inspector);
      const per = (after - before) / n;

      checkAborted(ctx.signal);
      const cpu0 = processCpuSeconds(w.pid);
      await sleep(IDLE_CPU_MS);
      const cpuPct = ((processCpuSeconds(w.pid) - cpu0) / (IDLE_CPU_MS / 1000)) * 100;

      const tcp = establishedTo(w.port);
      const live = (await sessions(w)).live;
      const tcpAfter = establishedTo(w.port);
      // On a mismatch, say whose the connections are, while they are open.
      const who = tcp === n && tcpAfter === n && live.length === n ? '' : connectionOwners(w.port);
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
          `VmRSS before ${(before / 1024).toFixed(1)} MiB (10 warm-up sessions opened and closed), after ${n} idle pty shells ${(after / 1024).toFixed(1)} MiB; each sampled after a full GC in Warden (through its inspector: its own Warden process, shipped defaults, started with --inspect).`,
          `${n} sessions opened without an error in ${openSec.toFixed(1)} s, ${SOURCES * PER_SOURCE} logins at a time from ${SOURCES} loopback addresses (${PER_SOURCE} each).`,
          `Idle CPU: Warden's user+system time over ${IDLE_CPU_MS / 1000} s with every session idle.`,
          `Established TCP connections to Warden's port: ${tcp} before and ${tcpAfter} after reading \`warden sessions\` (${live.length} live).${who && ` Connections: ${who}.`}`,
          `After the clients closed: the live set was empty of them after ${finalSec.toFixed(1)} s; their records in the history: ${recent.length}, final ${final}, end reasons: ${reasons}.`,
        ],
      };
    } finally {
      for (const s of open) s.close();
      await sleep(500);
      await w.stop();
    }
  },
};
