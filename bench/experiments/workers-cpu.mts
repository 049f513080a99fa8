/**
 * Experiment (not part of npm run bench): where the 2 cores go while 4 parallel recorded text
 * streams (exec `cat`, equal crypto) run through `warden start --workers 1` and `--workers 2`
 * (the bench's workers row, bench/workers.ts). Per batch: wall time, the CPU seconds of each
 * process group (Warden and its workers with their recording threads, the target sshd with
 * its session processes and `cat`, the 4 ssh clients, this script, everyone else) against
 * wall × cores; then the CPU Warden spends after the batch (gzip/hash of the 4 recordings).
 *
 *   npx tsx bench/experiments/workers-cpu.mts [MiB=32] [reps=2]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { sleep, waitUntil } from '../../test/helpers/processes.js';
import { CRYPTO } from '../crypto.js';
import { cpuSnapshot, reapedChildrenCpuSeconds, treeCpuSeconds } from '../proc-stats.js';
import { startRedisAndTarget, Teardown, wardenBenchPath } from '../setup.js';
import { makeTextFile } from '../text-file.js';
import { transfer } from '../transfers.js';
import { startBenchWarden } from '../warden-process.js';

const MIB = 1048576;
const mib = Number(process.argv[2] ?? 32);
const reps = Number(process.argv[3] ?? 2);
const CLK = 100;
const cores = availableParallelism();


const teardown = new Teardown();
try {
  const { redis, target } = await startRedisAndTarget(teardown);
  const sshdPid = Number(readFileSync(path.join(target.dir, 'sshd.pid'), 'utf8').trim());
  const text = makeTextFile(mib * MIB);
  teardown.push('text', () => text.remove());
  for (const workers of [1, 2]) {
    const w = await startBenchWarden({ redisUrl: redis.url, target, args: ['--workers', String(workers)] });
    if (workers > 1) await waitUntil('workers listening', async () => w.log().includes('"all workers listening"'), { timeoutMs: 60_000 });
    const p = wardenBenchPath(w);
    const tc = { signal: new AbortController().signal, text, wardenPid: w.pid };
    const quiet = async () => {
      for (let last = treeCpuSeconds(w.pid), n = 0; n < 60; n++) {
        await sleep(500);
        const now = treeCpuSeconds(w.pid);
        if (now - last < 0.03) return;
        last = now;
      }
    };
    const batch = () => Promise.all(Array.from({ length: 4 }, () => transfer(tc, 'text-exec', p, CRYPTO.equal, mib * MIB)));
    await batch(); // warm-up
    await quiet();
    for (let r = 0; r < reps; r++) {
      const m0 = cpuSnapshot();
      const g0 = { warden: treeCpuSeconds(w.pid), sshd: treeCpuSeconds(sshdPid), ssh: reapedChildrenCpuSeconds(), self: process.cpuUsage() };
      const t0 = performance.now();
      await batch();
      const wall = (performance.now() - t0) / 1000;
      const m1 = cpuSnapshot();
      const g = {
        warden: treeCpuSeconds(w.pid) - g0.warden,
        sshd: treeCpuSeconds(sshdPid) - g0.sshd,
        ssh: reapedChildrenCpuSeconds() - g0.ssh,
        self: (() => { const u = process.cpuUsage(g0.self); return (u.user + u.system) / 1e6; })(),
      };
      const tasks = (m1.tasks - m0.tasks) / CLK;
      const busy = (m1.busy - m0.busy) / CLK;
      const ours = g.warden + g.sshd + g.ssh + g.self;
      const w1 = treeCpuSeconds(w.pid);
      await quiet();
      const after = treeCpuSeconds(w.pid) - w1;
      console.log(
        `--workers ${workers} batch ${r + 1}: 4 x ${mib} MiB in ${wall.toFixed(2)} s = ${((4 * mib) / wall).toFixed(0)} MiB/s aggregate; ` +
          `capacity ${(wall * cores).toFixed(2)} CPU s (${cores} cores), machine busy ${busy.toFixed(2)} s (${((busy / (wall * cores)) * 100).toFixed(0)}%, interrupts incl.); ` +
          `Warden ${g.warden.toFixed(2)} s, sshd+cat ${g.sshd.toFixed(2)} s, ssh clients ${g.ssh.toFixed(2)} s, this script ${g.self.toFixed(2)} s, ` +
          `others ${Math.max(0, tasks - ours).toFixed(2)} s; Warden after the batch (finalising 4 recordings) ${after.toFixed(2)} s`,
      );
    }
    await w.stop();
  }
} finally {
  await teardown.run();
}
