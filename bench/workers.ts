/**
 * Every core: aggregate throughput of 4 parallel recorded text streams (exec `cat`, equal
 * crypto) through `warden start --workers 2` vs `--workers 1`, two Warden processes with the
 * shipped defaults otherwise, interleaved. One batch is timed from the four clients' spawn to
 * the last one's exit (connection setup included, the same on both), so the aggregate is
 * 4 × size / batch time. On a machine with fewer than 3 cores the target sshd and the clients
 * compete with the workers for the same cores: the figure says what this machine allows.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { waitUntil } from '../test/helpers/processes.js';
import { CRYPTO } from './crypto.js';
import { treeCpuSeconds } from './proc-stats.js';
import { wardenBenchPath } from './setup.js';
import { list, median } from './stats.js';
import { transfer, workingBytes } from './transfers.js';
import { warmupBytes } from './throughput.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';
import { startBenchWarden, type BenchWarden } from './warden-process.js';

const STREAMS = 4;
const TARGET = 1.5;

async function batch(ctx: BenchContext, warden: BenchWarden, bytes: number): Promise<{ mibps: number; cpu: number }> {
  const path = wardenBenchPath(warden);
  const tc = { signal: ctx.signal, text: ctx.env.text, wardenPid: warden.pid };
  const cpu0 = treeCpuSeconds(warden.pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: STREAMS }, () => transfer(tc, 'text-exec', path, CRYPTO.equal, bytes)));
  const seconds = (performance.now() - t0) / 1000;
  return { mibps: (STREAMS * bytes) / 1048576 / seconds, cpu: treeCpuSeconds(warden.pid) - cpu0 };
}

export const workers: Measurement = {
  name: 'workers',
  title: 'Every core: 4 parallel text streams, --workers 2 vs --workers 1',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const bytes = workingBytes(env.text);
    const common = { redisUrl: env.redis.url, target: env.target };
    const [one, two] = await Promise.all([startBenchWarden({ ...common, args: ['--workers', '1'] }), startBenchWarden({ ...common, args: ['--workers', '2'] })]);
    const wardens = { one, two } as const;
    const got = { one: [] as number[], two: [] as number[] };
    const cpu = { one: [] as number[], two: [] as number[] };
    try {
      // "warden started" is the first worker's line; the port is shared once all listen.
      await waitUntil('both workers listening', async () => two.log().includes('"all workers listening"'), { timeoutMs: 60_000, details: () => two.log() });
      for (const which of ['one', 'two'] as const) await batch(ctx, wardens[which], warmupBytes(bytes));
      for (let i = 0; i < ctx.reps; i++) {
        for (const which of i % 2 ? (['two', 'one'] as const) : (['one', 'two'] as const)) {
          checkAborted(ctx.signal);
          await ctx.settle();
          const r = await batch(ctx, wardens[which], bytes);
          got[which].push(r.mibps);
          cpu[which].push(r.cpu);
        }
        ctx.progress(`workers: repetition ${i + 1}/${ctx.reps} done`);
      }
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
    const gain = median(got.two) / median(got.one);
    const cell = (v: number[]) => `${median(v).toFixed(0)} MiB/s [${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}]`;
    return {
      rows: [{
        metric: `${STREAMS} parallel streams, down · text · exec \`cat\`, ${bytes / 1048576} MiB each (aggregate)`,
        recorded: 'yes',
        warden: `--workers 2: ${cell(got.two)} · --workers 1: ${cell(got.one)}`,
        ratio: `${gain.toFixed(2)}x; Warden CPU ${median(cpu.two).toFixed(2)} s vs ${median(cpu.one).toFixed(2)} s (all its processes)`,
        target: `≥ ${TARGET}x`,
        ok: gain >= TARGET,
      }],
      notes: [
        `${ctx.reps} repetitions, order alternating, after one warm-up batch each; ${availableParallelism()} cores here, shared with the target sshd and the ${STREAMS} clients.`,
        `aggregate MiB/s --workers 2 [${list(got.two, 0)}], --workers 1 [${list(got.one, 0)}]; Warden CPU s --workers 2 [${list(cpu.two)}], --workers 1 [${list(cpu.one)}]`,
      ],
    };
  },
};
