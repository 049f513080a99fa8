/**
 * Experiment (not part of npm run bench): what one keystroke costs in Warden beyond a bare
 * ssh2 relay (bench/bare-relay-server.ts). Both run as their own process with `--cpu-prof`;
 * an ssh2 client (equal crypto) types N keys back-to-back into `stty raw -echo; cat` on the
 * target through each, timing the echo. Per path: the median round trip, the process' CPU per
 * key (from /proc), and the main-thread profile's samples during the keys, per key, by bucket.
 *
 *   npx tsx bench/experiments/keystroke-cpu.mts [N=3000]
 *
 * With STRACE=1 (no profile then: strace slows the process), counts each relay's socket
 * write/writev/read calls per key instead. With STRACE=time, traces the main thread's reads,
 * writes and epoll_waits with timestamps and prints, per key, the median time from reading a
 * packet on one socket to writing the relayed packet on the other (key in, echo out), both
 * inflated alike by ptrace: compare the relays with each other, not with the round trip.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ClientChannel } from 'ssh2';
import { makeTempDir, sleep } from '../../test/helpers/processes.js';
import { startBareRelay } from '../bare-relay.js';
import { CRYPTO } from '../crypto.js';
import { processCpuSeconds, threadCpuSeconds } from '../proc-stats.js';
import { openPtyShell, waitForOutput } from '../pty-session.js';
import { startRedisAndTarget, Teardown, wardenBenchPath, type BenchPath } from '../setup.js';
import { median } from '../stats.js';
import { startBenchWarden } from '../warden-process.js';
import { monoUs, splitProfile, topFunctions } from './cpu-profile-split.mjs';

const N = Number(process.argv[2] ?? 3000);

/** One key, one echo; the next key on the next turn of the loop, as bench/keystroke.ts does. */
async function keys(stream: ClientChannel, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      stream.once('data', () => resolve());
      stream.write(Buffer.of(0x61 + (i % 26)));
    });
    out.push(performance.now() - t0);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/**
 * From a `strace -ttt` of the main thread: for each successful socket read followed by a write
 * on another fd before the next epoll wait, the read-to-write time; median per fd pair, the
 * two busiest pairs (a key in, its echo out), and the median time from that write to the next
 * epoll wait (work done after forwarding, before the loop can take the next packet).
 */
function relayGaps(trace: string): string {
  const pairs = new Map<string, number[]>();
  const after = new Map<string, number[]>();
  let read: { fd: string; t: number } | undefined;
  let wrote: { key: string; t: number } | undefined;
  for (const line of trace.split('\n')) {
    const m = /^(\d+\.\d+) (\w+)\((\d+)?.*= (-?\d+)/.exec(line);
    if (!m) continue;
    const [, ts, call, fd, ret] = m;
    const t = Number(ts) * 1e6;
    if (call!.startsWith('epoll')) {
      if (wrote) (after.get(wrote.key) ?? after.set(wrote.key, []).get(wrote.key)!).push(t - wrote.t);
      read = undefined;
      wrote = undefined;
    } else if (call === 'read' && Number(ret) > 0) read ??= { fd: fd!, t };
    else if ((call === 'write' || call === 'writev') && read && fd !== read.fd && !wrote) {
      const key = `${read.fd}->${fd}`;
      (pairs.get(key) ?? pairs.set(key, []).get(key)!).push(t - read.t);
      wrote = { key, t };
    }
  }
  return [...pairs].sort((a, b) => b[1].length - a[1].length).slice(0, 2)
    .map(([k, v]) => `fd ${k}: ${v.length}x, read to write median ${median(v).toFixed(0)} µs, then ${median(after.get(k) ?? [0]).toFixed(0)} µs more before the next epoll wait`).join('; ');
}


const teardown = new Teardown();
try {
  const { redis, target } = await startRedisAndTarget(teardown);
  const wardenProf = makeTempDir('prof-warden');
  const bareProf = makeTempDir('prof-bare');
  const warden = await startBenchWarden({ redisUrl: redis.url, target, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', wardenProf] });
  teardown.push('warden', () => warden.stop());
  // The bare relay is spawned with this process' execArgv (tsx's loader): add the flag there
  // for that spawn (NODE_OPTIONS may not carry --cpu-prof).
  const argv = process.execArgv.slice();
  process.execArgv.push('--cpu-prof', '--cpu-prof-dir', bareProf, '--require', path.join(path.dirname(new URL(import.meta.url).pathname), 'exit-on-sigterm.cjs'));
  const bare = await startBareRelay(target);
  process.execArgv.splice(0, process.execArgv.length, ...argv);
  teardown.push('bare', () => bare.stop());

  const paths: Array<{ name: string; pid: number; connect: BenchPath['connect']; prof: string }> = [
    { name: 'bare ssh2 relay', pid: bare.pid, connect: (c) => bare.connect(c), prof: bareProf },
    { name: 'warden', pid: warden.pid, connect: wardenBenchPath(warden).connect, prof: wardenProf },
  ];
  const results: Array<{ name: string; rtt: number; cpuUs: number; window: [number, number]; prof: string; perThread: ReadonlyArray<readonly [string, number]> }> = [];
  for (const p of paths) {
    const s = await openPtyShell({ connect: p.connect }, { crypto: CRYPTO.equal });
    s.stream.write(`stty raw -echo; printf 'RE''ADY'; exec cat\n`);
    await waitForOutput(s.stream, (t) => t.includes('READY'), 15_000);
    await sleep(300);
    s.stream.removeAllListeners('data');
    await keys(s.stream, 300); // warm-up
    const straceOut = path.join(p.prof, 'strace.txt');
    const timeline = process.env.STRACE === 'time';
    const straceArgs = timeline ? ['-ttt', '-e', 'trace=read,write,writev,epoll_wait,epoll_pwait'] : ['-c', '-f', '-e', 'trace=write,writev,read'];
    const tracer = process.env.STRACE ? spawn('strace', [...straceArgs, '-o', straceOut, '-p', String(p.pid)], { stdio: 'ignore' }) : undefined;
    if (tracer) await sleep(1000);
    const th0 = threadCpuSeconds(p.pid);
    const c0 = processCpuSeconds(p.pid);
    const t0 = monoUs();
    const rtts = await keys(s.stream, N);
    const window: [number, number] = [t0, monoUs()];
    const cpu = processCpuSeconds(p.pid) - c0;
    const th1 = threadCpuSeconds(p.pid);
    const perThread = [...th1].map(([k, v]) => [k, ((v - (th0.get(k) ?? 0)) / N) * 1e6] as const).filter(([, us]) => us >= 5);
    if (tracer) {
      tracer.kill('SIGINT');
      await new Promise((r) => tracer.once('exit', r));
      if (timeline) console.log(`${p.name}: ${relayGaps(readFileSync(straceOut, 'utf8'))}`);
      else console.log(`${p.name}: syscalls during ${N} keys (+ the rest of the process meanwhile):\n${readFileSync(straceOut, 'utf8')}`);
    }
    s.close();
    results.push({ name: p.name, rtt: median(rtts), cpuUs: (cpu / N) * 1e6, window, prof: p.prof, perThread });
  }
  await warden.stop();
  await bare.stop();
  for (const r of results) {
    console.log(`\n== ${r.name}: ${N} keys back-to-back, RTT median ${r.rtt.toFixed(3)} ms; process CPU ${r.cpuUs.toFixed(0)} µs/key (all threads, /proc, 10 ms ticks)`);
    console.log(`per thread (µs/key, 10 ms ticks): ${r.perThread.map(([k, us]) => `${k} ${us.toFixed(0)}`).join(', ')}`);
    const main = readdirSync(r.prof).filter((f) => f.endsWith('.cpuprofile') && f.split('.')[4] === '0');
    for (const f of main) {
      const s = splitProfile(path.join(r.prof, f), [r.window]);
      console.log(`main thread busy ${((s.busyMs * 1000) / N).toFixed(0)} µs/key, idle ${(((s.buckets.get('idle') ?? 0) * 1000) / N).toFixed(0)} µs/key:`);
      for (const [b, ms] of [...s.buckets].filter(([b]) => b !== 'idle').sort((a, c) => c[1] - a[1])) {
        if ((ms * 1000) / N >= 0.5) console.log(`  ${((ms * 1000) / N).toFixed(1).padStart(6)} µs/key  ${b}`);
      }
      console.log('top self time:');
      for (const [ms, fn] of topFunctions(path.join(r.prof, f), [r.window], 15)) console.log(`  ${((ms * 1000) / N).toFixed(1).padStart(6)} µs/key  ${fn}`);
    }
  }
} finally {
  await teardown.run();
}
