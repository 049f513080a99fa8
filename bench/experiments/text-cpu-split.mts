/**
 * Experiment (not part of npm run bench): where Warden's CPU goes per MiB of recorded text,
 * exec `cat` and pty shell `cat`, recording on vs off (equal crypto: aes128-gcm + curve25519 on
 * both hops). One bench Warden (bench/warden-process.ts, shipped defaults) per variant, run
 * with `--cpu-prof`: Node writes one profile per thread, the main thread's and the recording
 * worker's. Only the samples taken during the timed transfers count (profile timestamps and
 * process.hrtime share CLOCK_MONOTONIC). Per-thread CPU comes from /proc/PID/task, so what no
 * profile sees (V8's GC helper threads, libuv's file-write threads) is accounted too, and the
 * CPU of the other processes of the path (target sshd, ssh client) is given beside it.
 *
 *   npx tsx bench/experiments/text-cpu-split.mts [MiB=64] [reps=2] [variant,...]
 *
 * Variants: exec-rec, exec-norec, pty-rec, pty-norec, exec-direct, pty-direct; pty-watched (as
 * pty-rec, with a `warden watch` process attached to each transfer's session); and for the
 * relay alone (binary is not recorded): bindown, bindown-direct, binup, binup-direct.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry } from '../../src/registry.js';
import { REPO_ROOT } from '../../test/helpers/redis.js';
import path from 'node:path';
import { makeTempDir, sleep } from '../../test/helpers/processes.js';
import { CRYPTO } from '../crypto.js';
import { processCpuSeconds, reapedChildrenCpuSeconds, threadCpuSeconds, treeCpuSeconds } from '../proc-stats.js';
import { startRedisAndTarget, Teardown, wardenBenchPath, type BenchPath } from '../setup.js';
import { makeTextFile } from '../text-file.js';
import { transfer, type KindName } from '../transfers.js';
import { startBenchWarden } from '../warden-process.js';
import { monoUs, printSplit, splitProfile, topFunctions } from './cpu-profile-split.mjs';
import { sshCommand } from '../../test/helpers/ssh-client.js';

const MIB = 1048576;
const mib = Number(process.argv[2] ?? 64);
const reps = Number(process.argv[3] ?? 2);
const only = process.argv[4]?.split(',');



/**
 * Until Warden is quiet: under 20 ms of CPU in 500 ms, not counting the profiler's own sampling
 * threads (v8:ProfEvntProc), which never rest; at most 30 s.
 */
async function quiet(pid: number): Promise<void> {
  const busy = () => [...threadCpuSeconds(pid)].filter(([k]) => !k.startsWith('v8:Prof')).reduce((a, [, v]) => a + v, 0);
  for (let last = busy(), n = 0; n < 60; n++) {
    await sleep(500);
    const now = busy();
    if (now - last < 0.02) return;
    last = now;
  }
}

/**
 * Attach a `warden watch` process (output drained) to the next live shell that appears; the
 * returned function stops it. The watcher's CPU is its own process's, not counted here.
 */
function watchNextShell(redisUrl: string, prefix: string, configFile: string): () => void {
  const redis = new Redis(redisUrl);
  const registry = new Registry(redis, new RedisKeys(prefix), { retentionMs: 3_600_000, historyMax: 10_000 });
  let child: ChildProcess | undefined;
  let stopped = false;
  void (async () => {
    const before = new Set((await registry.listLive()).map((r) => r.id));
    while (!stopped) {
      const id = (await registry.listLive()).find((r) => !before.has(r.id) && r.kind === 'shell')?.id;
      if (id) {
        child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/warden.js'), 'watch', id, '--config', configFile], { stdio: ['ignore', 'pipe', 'ignore'] });
        child.stdout!.resume();
        return;
      }
      await sleep(20);
    }
  })();
  return () => {
    stopped = true;
    child?.kill('SIGTERM');
    redis.disconnect();
  };
}

const teardown = new Teardown();
process.on('SIGINT', () => void teardown.run().then(() => process.exit(130)));
try {
  const { redis, target } = await startRedisAndTarget(teardown);
  const text = makeTextFile(mib * MIB);
  teardown.push('text', () => text.remove());
  const sshdPid = Number(readFileSync(path.join(target.dir, 'sshd.pid'), 'utf8').trim() || NaN);

  const variants: Array<{ name: string; kind: KindName; rec?: boolean; watched?: boolean }> = [
    { name: 'exec-direct', kind: 'text-exec' },
    { name: 'exec-rec', kind: 'text-exec', rec: true },
    { name: 'exec-norec', kind: 'text-exec', rec: false },
    { name: 'pty-direct', kind: 'text-pty' },
    { name: 'pty-rec', kind: 'text-pty', rec: true },
    { name: 'pty-norec', kind: 'text-pty', rec: false },
    { name: 'pty-watched', kind: 'text-pty', rec: true, watched: true },
    // Binary output and input are not recorded: the relay alone (shipped defaults).
    { name: 'bindown-direct', kind: 'binary-down' },
    { name: 'bindown', kind: 'binary-down', rec: true },
    { name: 'binup-direct', kind: 'binary-up' },
    { name: 'binup', kind: 'binary-up', rec: true },
  ];
  for (const v of variants.filter((x) => !only || only.includes(x.name))) {
    const profDir = makeTempDir('prof');
    let p: BenchPath;
    let wardenPid = NaN;
    let stop = async () => undefined as void;
    let watchEach: (() => () => void) | undefined;
    if (v.rec === undefined) {
      p = { name: 'direct', ssh: (command, o) => sshCommand({ port: target.port, login: target.user, identity: target.clientKeyPath, command, tty: o.tty, extraArgs: o.crypto.opensshArgs }), connect: () => { throw new Error('unused'); } };
    } else {
      // A watched user's notice would add bytes to the transfer, which checks its byte count.
      const extraYaml = `${v.rec ? '' : 'recording: { enabled: false }'}\n${v.watched ? 'watch: { notifyUser: false }' : ''}`;
      const w = await startBenchWarden({ redisUrl: redis.url, target, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir], extraYaml });
      p = wardenBenchPath(w);
      wardenPid = w.pid;
      stop = () => w.stop();
      if (v.watched) watchEach = () => watchNextShell(redis.url, w.redisPrefix, w.configFile);
    }
    const tc = { signal: new AbortController().signal, text, wardenPid };
    await transfer(tc, v.kind, p, CRYPTO.equal, 8 * MIB); // warm-up (JIT, recording worker start)
    if (!Number.isNaN(wardenPid)) await quiet(wardenPid); // its recording's gzip
    // Per repetition: the transfer's window (profiled), then the wait until Warden is quiet
    // again, which is the session's finalisation (the recording's gzip and hash, libuv's
    // threads), counted apart: it runs after the user's transfer, not during it.
    const windows: Array<[number, number]> = [];
    const during = new Map<string, number>();
    const after = new Map<string, number>();
    const add = (m: Map<string, number>, a: Map<string, number>, b: Map<string, number>) => {
      for (const [k, v] of b) m.set(k, (m.get(k) ?? 0) + v - (a.get(k) ?? 0));
    };
    let sshd = 0;
    let ssh = 0;
    const secs: number[] = [];
    for (let i = 0; i < reps; i++) {
      const th0 = Number.isNaN(wardenPid) ? new Map<string, number>() : threadCpuSeconds(wardenPid);
      const s0 = treeCpuSeconds(sshdPid);
      const c0 = reapedChildrenCpuSeconds();
      const t0 = monoUs();
      const unwatch = watchEach?.();
      secs.push((await transfer(tc, v.kind, p, CRYPTO.equal, mib * MIB)).seconds);
      windows.push([t0, monoUs()]);
      unwatch?.();
      sshd += treeCpuSeconds(sshdPid) - s0;
      ssh += reapedChildrenCpuSeconds() - c0;
      if (Number.isNaN(wardenPid)) continue;
      const th1 = threadCpuSeconds(wardenPid);
      add(during, th0, th1);
      await quiet(wardenPid);
      add(after, th1, threadCpuSeconds(wardenPid));
    }
    const total = mib * reps;
    const per = (s: number) => `${((s / total) * 1000).toFixed(1)} ms/MiB`;
    console.log(`\n== ${v.name}: ${reps} x ${mib} MiB, transfer seconds [${secs.map((s) => s.toFixed(2)).join(', ')}]`);
    console.log(`target sshd (all its processes) ${sshd.toFixed(2)} s = ${per(sshd)}; ssh client ${ssh.toFixed(2)} s = ${per(ssh)}`);
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    for (const [label, m] of [['during the transfers', during], ['after them (finalisation)', after]] as const) {
      if (m.size === 0) continue;
      const prof = [...m].filter(([k]) => k.startsWith('v8:Prof')).reduce((a, [, v]) => a + v, 0);
      console.log(`Warden CPU ${label}: ${sum(m).toFixed(2)} s = ${per(sum(m))}, without the profiler's threads ${(sum(m) - prof).toFixed(2)} s = ${per(sum(m) - prof)}; threads:`);
      for (const [k, d] of m) if (d >= 0.03) console.log(`  ${k.padEnd(22)} ${d.toFixed(2)} s = ${per(d)}`);
    }
    await stop();
    if (!Number.isNaN(wardenPid)) {
      const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort();
      for (const f of files) {
        // File names: CPU.date.time.pid.THREADID.seq.cpuprofile; thread 0 is the main thread.
        const tid = f.split('.')[4];
        printSplit(`profile thread ${tid} (${tid === '0' ? 'main' : 'worker'})`, splitProfile(path.join(profDir, f), windows), total);
        console.log('  top self time:');
        for (const [ms, fn] of topFunctions(path.join(profDir, f), windows, 10)) console.log(`    ${(ms / total).toFixed(2)} ms/MiB  ${fn}`);
      }
    }
  }
} finally {
  await teardown.run();
}
