/**
 * Session setup: wall time of `ssh ... true` with the real OpenSSH client, runs interleaved,
 * once with equal crypto on every hop and once with each side's defaults (OpenSSH's default
 * post-quantum KEX costs more than the curve25519 that Warden's hops use, so the defaults
 * row partly measures algorithm choice; the equal row does not).
 */
import { performance } from 'node:perf_hooks';
import { CRYPTO, type CryptoSet, type CryptoSetName } from './crypto.js';
import { exited, spawnSsh } from './openssh.js';
import { PATHS, type BenchPath } from './setup.js';
import { fmtMs, fmtRatio, list, median, percentile, ratio, rotation } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type PathName, type Result, type Row } from './types.js';

async function once(ctx: BenchContext, p: BenchPath, crypto: CryptoSet): Promise<number> {
  const t0 = performance.now();
  const res = await exited(spawnSsh(p.ssh('true', { crypto }), 'ignore'), 30_000, ctx.signal);
  const ms = performance.now() - t0;
  if (res.code !== 0) throw new Error(`${p.name}: ssh ... true exited ${res.code ?? res.signal}: ${res.stderr.trim()}`);
  return ms;
}

const SETS: readonly CryptoSetName[] = ['equal', 'defaults'];

export const setupTime: Measurement = {
  name: 'setup-time',
  title: 'Session setup (ssh ... true)',
  async run(ctx: BenchContext): Promise<Result> {
    const runs = ctx.quick ? 5 : 20;
    const empty = (): Record<PathName, number[]> => ({ direct: [], warden: [], proxyjump: [] });
    const samples: Record<CryptoSetName, Record<PathName, number[]>> = { equal: empty(), defaults: empty() };
    for (const set of SETS) for (const name of PATHS) for (let i = 0; i < 2; i++) await once(ctx, ctx.env.paths[name], CRYPTO[set]); // warm-up
    for (let i = 0; i < runs; i++) {
      if (i % 5 === 0) await ctx.settle();
      for (const set of SETS) {
        for (const name of rotation(PATHS, i)) {
          checkAborted(ctx.signal);
          samples[set][name].push(await once(ctx, ctx.env.paths[name], CRYPTO[set]));
        }
      }
    }
    const rows: Row[] = [];
    const notes = [`${runs} interleaved runs per path and crypto set after 2 warm-up runs each (rotated order); cells: median [min–max].`];
    for (const set of SETS) {
      const s = samples[set];
      ctx.progress(`setup time ${set}: medians ${PATHS.map((n) => `${n} ${median(s[n]).toFixed(1)} ms`).join(', ')}`);
      const cell = (v: number[]) => `${fmtMs(median(v))} [${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}]`;
      const wd = ratio(median(s.warden), median(s.direct));
      rows.push({
        metric: `setup \`ssh … true\`, ${set === 'equal' ? 'equal crypto' : "each side's defaults"}`,
        direct: cell(s.direct),
        warden: cell(s.warden),
        proxyjump: cell(s.proxyjump),
        ratio: `w/d ${fmtRatio(wd)} · pj/d ${fmtRatio(ratio(median(s.proxyjump), median(s.direct)))}`,
        target: set === 'equal' ? 'w/d ≤ 1.40x' : '(reported)',
        ok: set === 'equal' ? wd <= 1.4 : undefined,
      });
      notes.push(...PATHS.map((n) => `${set} ${n}: p10 ${percentile(s[n], 10).toFixed(1)} ms, p90 ${percentile(s[n], 90).toFixed(1)} ms; first 10 [${list(s[n].slice(0, 10), 1)}]`));
    }
    return { rows, notes };
  },
};
