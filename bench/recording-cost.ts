/**
 * What recording costs: the same transfers through two Warden processes that differ only in
 * `recording.enabled` (shipped defaults otherwise), interleaved, with equal crypto. Reported
 * as time overhead, on/off − 1 (a 32% longer transfer is "+32%", not a 24% "loss").
 *
 * Text (exec `cat` and a pty shell `cat`) is what the recorder encodes byte for byte; the
 * binary stream is left out of recordings by design, so its row shows the noise floor.
 */
import { CRYPTO } from './crypto.js';
import { wardenBenchPath } from './setup.js';
import { list, median } from './stats.js';
import { KINDS, transfer, workingBytes, type KindName, type TransferContext } from './transfers.js';
import { warmupBytes } from './throughput.js';
import { checkAborted, type BenchContext, type Measurement, type Result, type Row } from './types.js';
import { startBenchWarden } from './warden-process.js';

const RECORDING_KINDS: readonly KindName[] = ['text-exec', 'text-pty', 'binary-down'];

const range = (v: readonly number[]) => `${median(v).toFixed(2)} s [${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}]`;

export const recordingCost: Measurement = {
  name: 'recording',
  title: 'Recording on vs off (two Warden processes, equal crypto)',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const bytes = workingBytes(env.text);
    const common = { redisUrl: env.redis.url, target: env.target };
    const [on, off] = await Promise.all([
      startBenchWarden({ ...common, extraYaml: 'recording: { enabled: true }' }),
      startBenchWarden({ ...common, extraYaml: 'recording: { enabled: false }' }),
    ]);
    const wardens = { on, off } as const;
    const paths = { on: wardenBenchPath(on), off: wardenBenchPath(off) };
    const tc = (which: 'on' | 'off'): TransferContext => ({ signal: ctx.signal, text: env.text, wardenPid: wardens[which].pid });
    const rows: Row[] = [];
    const notes: string[] = [];
    try {
      for (const kind of RECORDING_KINDS) {
        for (const which of ['on', 'off'] as const) await transfer(tc(which), kind, paths[which], CRYPTO.equal, warmupBytes(bytes));
      }
      const t = new Map<KindName, { on: number[]; off: number[]; cpuOn: number[]; cpuOff: number[] }>();
      for (const kind of RECORDING_KINDS) t.set(kind, { on: [], off: [], cpuOn: [], cpuOff: [] });
      for (let i = 0; i < ctx.reps; i++) {
        for (const kind of RECORDING_KINDS) {
          for (const which of i % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
            checkAborted(ctx.signal);
            await ctx.settle();
            const s = await transfer(tc(which), kind, paths[which], CRYPTO.equal, bytes);
            const rec = t.get(kind)!;
            rec[which].push(s.seconds);
            (which === 'on' ? rec.cpuOn : rec.cpuOff).push(s.wardenCpu);
          }
        }
        ctx.progress(`recording on/off: repetition ${i + 1}/${ctx.reps} done`);
      }
      for (const kind of RECORDING_KINDS) {
        const r = t.get(kind)!;
        const overhead = median(r.on) / median(r.off) - 1;
        const recorded = KINDS[kind].recorded === 'yes';
        rows.push({
          metric: `recording on vs off: ${KINDS[kind].label}, ${bytes / 1048576} MiB`,
          recorded: KINDS[kind].recorded,
          warden: `on ${range(r.on)} · off ${range(r.off)}`,
          ratio: `time overhead ${overhead >= 0 ? '+' : ''}${(overhead * 100).toFixed(1)}%; Warden CPU ${median(r.cpuOn).toFixed(2)} s vs ${median(r.cpuOff).toFixed(2)} s`,
          // Binary output is not recorded: its difference is noise, not a cost to judge.
          target: recorded ? 'overhead ≤ 10%' : '(noise floor: not recorded)',
          ok: recorded ? overhead <= 0.1 : undefined,
        });
        notes.push(`${kind}: on [${list(r.on)}] s, off [${list(r.off)}] s; Warden CPU on [${list(r.cpuOn)}] s, off [${list(r.cpuOff)}] s`);
      }
      notes.unshift(
        `${ctx.reps} repetitions, on/off order alternating, after one ${warmupBytes(bytes) / 1048576} MiB warm-up per kind and instance; overhead = median(on) / median(off) − 1. ` +
          'Both instances run the shipped defaults except `recording.enabled`; the command tracker runs in both.',
      );
      return { rows, notes };
    } finally {
      await Promise.all([on.stop(), off.stop()]);
    }
  },
};
