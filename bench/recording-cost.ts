/**
 * What recording costs the relay: the same download through two Warden instances that differ
 * only in `recording.enabled`, interleaved. Two streams: text (`yes`, which every byte of is
 * recorded, the recorder's real work) and NUL bytes (binary output of a channel without a
 * terminal, which Warden leaves out of the recording by design, with a marker).
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { freePort, trackChild } from '../test/helpers/processes.js';
import { uniquePrefix } from '../test/helpers/redis.js';
import { BASE_OPTIONS } from '../test/helpers/ssh-client.js';
import { spawnWarden, type WardenProcess } from '../test/helpers/warden-process.js';
import { fmtSeconds, median } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result, type Row } from './types.js';

function download(w: WardenProcess, command: string, expect: number): Promise<number> {
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', command], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let bytes = 0;
  let first = 0;
  child.stdout!.on('data', (d: Buffer) => {
    if (bytes === 0) first = performance.now();
    bytes += d.length;
  });
  return new Promise((resolve, reject) =>
    child.once('close', (code) => {
      if (code !== 0 || bytes !== expect) reject(new Error(`download: exit ${code}, ${bytes}/${expect} bytes`));
      else resolve((performance.now() - first) / 1000);
    }),
  );
}

export const recordingCost: Measurement = {
  name: 'recording',
  title: 'Relay throughput with recording on and off',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const size = (ctx.quick ? 64 : 512) * 1024 * 1024;
    const reps = ctx.quick ? 1 : 3;
    const common = { redisUrl: env.redis.url, sshd: env.target };
    const [on, off] = await Promise.all([
      spawnWarden({ ...common, prefix: uniquePrefix(), port: await freePort(), extraYaml: 'recording: { enabled: true }' }),
      spawnWarden({ ...common, prefix: uniquePrefix(), port: await freePort(), extraYaml: 'recording: { enabled: false }' }),
    ]);
    const streams = {
      text: `yes 'warden recording benchmark: the quick brown fox jumps over the lazy dog 0123456789' | head -c ${size}`,
      binary: `head -c ${size} /dev/zero`,
    };
    const rows: Row[] = [];
    const notes: string[] = [];
    try {
      for (const [kind, command] of Object.entries(streams)) {
        const t = { on: [] as number[], off: [] as number[] };
        for (let i = 0; i < reps; i++) {
          for (const which of i % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
            checkAborted(ctx.signal);
            await ctx.settle();
            t[which].push(await download(which === 'on' ? on : off, command, size));
          }
        }
        const loss = 1 - median(t.off) / median(t.on);
        ctx.progress(`recording ${kind}: on ${median(t.on).toFixed(2)} s, off ${median(t.off).toFixed(2)} s`);
        rows.push({
          metric: `download ${size / 1048576} MiB ${kind}, recording on vs off`,
          warden: `on ${fmtSeconds(median(t.on))} · off ${fmtSeconds(median(t.off))}`,
          ratio: `throughput loss ${(loss * 100).toFixed(1)}%`,
          target: 'loss ≤ 10%',
          ok: loss <= 0.1,
        });
        notes.push(`${kind}: on [${t.on.map((s) => s.toFixed(2)).join(', ')}] s, off [${t.off.map((s) => s.toFixed(2)).join(', ')}] s`);
      }
      notes.push('Text is recorded byte for byte; the NUL stream is binary output of a channel without a terminal, which the recorder leaves out (a marker says so).');
      return { rows, notes };
    } finally {
      await Promise.all([on.stop(), off.stop()]);
    }
  },
};
