/**
 * Bulk throughput with the real OpenSSH client and its default algorithms: a stream down
 * (`head -c N /dev/zero` on the target, counted here) and up (N zero bytes fed to `wc -c` on
 * the target, which also proves they all arrived). Timed from the first byte to the end, so
 * connection setup (measured on its own in setup-time) does not dilute the ratio; the wall
 * time including setup is in the notes. A second row gives the CPU seconds all processes
 * spent per transfer, which other load on a shared machine does not distort.
 *
 * The stream is NUL bytes: with recording on, Warden's asciicast JSON spells each one as
 * "\u0000", six bytes, so the download is the recorder's worst case (and it is stored).
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../test/helpers/processes.js';
import { PATHS, type BenchPath } from './setup.js';
import { exited, spawnSsh } from './openssh.js';
import { busyFraction, cpuSnapshot, processCpuSeconds, startLoadMeter, treeCpuSeconds, type CpuSnapshot } from './proc-stats.js';
import { fmtMiBps, fmtRatio, fmtSeconds, list, median, ratio, rotation } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type PathName, type Result, type Row } from './types.js';

type Direction = 'down' | 'up';

interface Sample {
  /** First byte to end of the command. */
  seconds: number;
  /** Spawn to exit, setup included. */
  wall: number;
  /** CPU seconds Warden's process used during the transfer (its path only). */
  wardenCpu: number;
  /** Share of all cores busy during the transfer. */
  busy: number;
  /** Share of all cores used by processes that are not ours (other people's load). */
  foreign: number;
  /** CPU seconds used by all of the benchmark's processes (clients, sshd, Warden, this one). */
  ownCpu: number;
}

type Meters = Pick<Sample, 'wardenCpu' | 'busy' | 'foreign' | 'ownCpu'>;
const NO_METERS: Meters = { wardenCpu: NaN, busy: NaN, foreign: NaN, ownCpu: NaN };

const TIMEOUT_MS = 300_000;

/**
 * Start the meters; the returned function stops them. Our process tree's CPU is read 300 ms
 * after the end, once the session's processes have been reaped (a process reaped during the
 * /proc scan would drop out of the sum), minus what Warden did meanwhile (it starts
 * finalizing the recording as soon as the session ends).
 */
function startMeters(wardenPid: number): () => Promise<Meters> {
  const cpu0: CpuSnapshot = cpuSnapshot();
  const load = startLoadMeter();
  const own0 = treeCpuSeconds();
  const w0 = processCpuSeconds(wardenPid);
  return async () => {
    const w1 = processCpuSeconds(wardenPid);
    const partial = { busy: busyFraction(cpu0, cpuSnapshot()), foreign: load.foreign(), wardenCpu: w1 - w0 };
    await sleep(300);
    return { ...partial, ownCpu: treeCpuSeconds() - own0 - (processCpuSeconds(wardenPid) - w1) };
  };
}

async function download(ctx: BenchContext, p: BenchPath, bytes: number): Promise<Sample> {
  const t0 = performance.now();
  const child = spawnSsh(p.ssh(`head -c ${bytes} /dev/zero`), 'ignore');
  const done = exited(child, TIMEOUT_MS, ctx.signal);
  let first: number | undefined;
  let stop: (() => Promise<Meters>) | undefined;
  let got = 0;
  child.stdout!.on('data', (d: Buffer) => {
    if (first === undefined) {
      first = performance.now();
      stop = startMeters(ctx.env.warden.pid);
    }
    got += d.length;
  });
  const res = await done;
  const end = performance.now();
  const meters = (await stop?.()) ?? NO_METERS;
  if (res.code !== 0 || got !== bytes) {
    throw new Error(`${p.name} download: exit ${res.code ?? res.signal}, ${got}/${bytes} bytes; stderr: ${res.stderr.trim()}`);
  }
  return { seconds: (end - first!) / 1000, wall: (end - t0) / 1000, ...meters };
}

async function upload(ctx: BenchContext, p: BenchPath, bytes: number): Promise<Sample> {
  const t0 = performance.now();
  // The "S" says the remote side is reading: the clock starts there, as for downloads.
  const child = spawnSsh(p.ssh('printf S; exec wc -c'), 'pipe');
  const done = exited(child, TIMEOUT_MS, ctx.signal);
  const chunk = Buffer.alloc(1 << 20);
  let first: number | undefined;
  let stop: (() => Promise<Meters>) | undefined;
  let out = '';
  const stdin = child.stdin!;
  let sent = 0;
  const pump = (): void => {
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent);
      sent += n;
      if (!stdin.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        stdin.once('drain', pump);
        return;
      }
    }
    stdin.end();
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out += d;
    if (first === undefined && out.startsWith('S')) {
      first = performance.now();
      stop = startMeters(ctx.env.warden.pid);
      pump();
    }
  });
  const res = await done;
  const end = performance.now();
  const meters = (await stop?.()) ?? NO_METERS;
  const counted = Number(out.slice(1).trim());
  if (res.code !== 0 || counted !== bytes) {
    throw new Error(`${p.name} upload: exit ${res.code ?? res.signal}, target counted ${out.slice(1).trim() || 'nothing'} of ${bytes} bytes; stderr: ${res.stderr.trim()}`);
  }
  return { seconds: (end - first!) / 1000, wall: (end - t0) / 1000, ...meters };
}

export const throughput: Measurement = {
  name: 'throughput',
  title: 'Throughput (OpenSSH client, default ciphers)',
  async run(ctx: BenchContext): Promise<Result> {
    const bytes = ctx.quick ? 64 * 1048576 : 512 * 1048576;
    const reps = ctx.quick ? 1 : 5;
    const mib = bytes / 1048576;
    const samples: Record<Direction, Record<PathName, Sample[]>> = {
      down: { direct: [], warden: [], proxyjump: [] },
      up: { direct: [], warden: [], proxyjump: [] },
    };
    for (let rep = 0; rep < reps; rep++) {
      for (const dir of ['down', 'up'] as const) {
        for (const name of rotation(PATHS, rep)) {
          await ctx.settle();
          checkAborted(ctx.signal);
          const p = ctx.env.paths[name];
          const s = dir === 'down' ? await download(ctx, p, bytes) : await upload(ctx, p, bytes);
          samples[dir][name].push(s);
          ctx.progress(`throughput rep ${rep + 1}/${reps} ${dir} ${name}: ${s.seconds.toFixed(2)} s (busy ${(s.busy * 100).toFixed(0)}%, others ${(s.foreign * 100).toFixed(0)}%)`);
        }
      }
    }

    const rows: Row[] = [];
    const notes: string[] = [`${mib} MiB per transfer, ${reps} interleaved repetition(s), path order rotated each repetition; seconds from first byte to exit.`];
    for (const dir of ['down', 'up'] as const) {
      const med = (name: PathName, f: (s: Sample) => number = (s) => s.seconds) => median(samples[dir][name].map(f));
      const d = med('direct');
      const w = med('warden');
      const j = med('proxyjump');
      const wd = ratio(w, d);
      const jd = ratio(j, d);
      const cell = (s: number) => `${fmtSeconds(s)} (${fmtMiBps(bytes, s)})`;
      rows.push({
        metric: `${dir === 'down' ? 'download' : 'upload'} ${mib} MiB`,
        direct: cell(d),
        warden: cell(w),
        proxyjump: cell(j),
        ratio: `w/d ${fmtRatio(wd)} · pj/d ${fmtRatio(jd)}`,
        target: 'w/d ≤ 1.30x and w < pj',
        ok: wd <= 1.3 && w < j,
      });
      // CPU is what the paths cost whatever else runs on the machine; wall time is not.
      const cd = med('direct', (s) => s.ownCpu);
      const cw = med('warden', (s) => s.ownCpu);
      const cj = med('proxyjump', (s) => s.ownCpu);
      rows.push({
        metric: `${dir === 'down' ? 'download' : 'upload'} ${mib} MiB: CPU-s, all processes`,
        direct: `${cd.toFixed(2)} s`,
        warden: `${cw.toFixed(2)} s (Warden ${med('warden', (s) => s.wardenCpu).toFixed(2)} s)`,
        proxyjump: `${cj.toFixed(2)} s`,
        ratio: `w/d ${fmtRatio(ratio(cw, cd))} · pj/d ${fmtRatio(ratio(cj, cd))}`,
        target: '(reported)',
      });
      for (const name of PATHS) {
        notes.push(
          `${dir} ${name}: seconds [${list(samples[dir][name].map((s) => s.seconds))}], wall incl. setup median ${med(name, (s) => s.wall).toFixed(2)} s, ` +
            `CPU of all bench processes median ${med(name, (s) => s.ownCpu).toFixed(2)} s, ` +
            `machine busy median ${(med(name, (s) => s.busy) * 100).toFixed(0)}% of all cores (others' load ${(med(name, (s) => s.foreign) * 100).toFixed(0)}%)` +
            (name === 'warden' || med(name, (s) => s.wardenCpu) > 0.5 ? `, Warden CPU median ${med(name, (s) => s.wardenCpu).toFixed(2)} s (${((med(name, (s) => s.wardenCpu) / w) * 100).toFixed(0)}% of one core)` : ''),
        );
      }
    }
    return { rows, notes };
  },
};
