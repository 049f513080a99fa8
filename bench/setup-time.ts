/** Session setup: wall time of `ssh ... true` with the real OpenSSH client, runs interleaved. */
import { exited, spawnSsh } from './openssh.js';
import { PATHS, type BenchPath } from './setup.js';
import { fmtMs, fmtRatio, list, median, percentile, ratio, rotation } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type PathName, type Result } from './types.js';
import { performance } from 'node:perf_hooks';

async function once(ctx: BenchContext, p: BenchPath): Promise<number> {
  const t0 = performance.now();
  const res = await exited(spawnSsh(p.ssh('true'), 'ignore'), 30_000, ctx.signal);
  const ms = performance.now() - t0;
  if (res.code !== 0) throw new Error(`${p.name}: ssh ... true exited ${res.code ?? res.signal}: ${res.stderr.trim()}`);
  return ms;
}

export const setupTime: Measurement = {
  name: 'setup-time',
  title: 'Session setup (ssh ... true)',
  async run(ctx: BenchContext): Promise<Result> {
    const runs = ctx.quick ? 5 : 30;
    const samples: Record<PathName, number[]> = { direct: [], warden: [], proxyjump: [] };
    for (const name of PATHS) for (let i = 0; i < 2; i++) await once(ctx, ctx.env.paths[name]); // warm-up
    for (let i = 0; i < runs; i++) {
      if (i % 5 === 0) await ctx.settle();
      for (const name of rotation(PATHS, i)) {
        checkAborted(ctx.signal);
        samples[name].push(await once(ctx, ctx.env.paths[name]));
      }
    }
    ctx.progress(`setup time: medians ${PATHS.map((n) => `${n} ${median(samples[n]).toFixed(1)} ms`).join(', ')}`);
    const d = median(samples.direct);
    const w = median(samples.warden);
    const j = median(samples.proxyjump);
    const wd = ratio(w, d);
    return {
      rows: [
        {
          metric: 'setup `ssh … true` (median)',
          direct: fmtMs(d),
          warden: fmtMs(w),
          proxyjump: fmtMs(j),
          ratio: `w/d ${fmtRatio(wd)} · pj/d ${fmtRatio(ratio(j, d))}`,
          target: 'w/d ≤ 1.40x',
          ok: wd <= 1.4,
        },
      ],
      notes: [
        `${runs} interleaved runs per path after 2 warm-up runs each (rotated order).`,
        ...PATHS.map((n) => `${n}: p10 ${percentile(samples[n], 10).toFixed(1)} ms, p90 ${percentile(samples[n], 90).toFixed(1)} ms; first 10 [${list(samples[n].slice(0, 10), 1)}]`),
      ],
    };
  },
};
