/**
 * Bulk throughput with the real OpenSSH client, interleaved across direct, Warden and
 * ProxyJump: recorded text (exec `cat`, pty shell `cat`) beside binary streams and uploads
 * (transfers.ts), first with the same cipher and key exchange forced on every hop, then a
 * smaller set with each side's defaults (crypto.ts). Every (set, kind, path) gets a warm-up
 * transfer first; then repetitions rotate the path order. Cells give the median and, in
 * brackets, min–max; ratios are of medians.
 */
import { CRYPTO, type CryptoSetName } from './crypto.js';
import { PATHS } from './setup.js';
import { fmtRatio, list, median, ratio, rotation } from './stats.js';
import { KINDS, kindBytes, transfer, type KindName, type Sample, type TransferContext } from './transfers.js';
import { checkAborted, type BenchContext, type Measurement, type PathName, type Result, type Row } from './types.js';

/** What runs, in this order within each repetition. */
export const PLAN: ReadonlyArray<{ set: CryptoSetName; kinds: readonly KindName[] }> = [
  { set: 'equal', kinds: ['text-exec', 'text-pty', 'binary-down', 'text-up', 'binary-up'] },
  { set: 'defaults', kinds: ['text-exec', 'binary-down', 'binary-up'] },
];

const MIB = 1048576;

type Samples = Record<PathName, Sample[]>;

/** "4.62 s · 111 MiB/s [4.16–11.22]" */
export function spreadCell(values: readonly number[], bytes: number): string {
  const m = median(values);
  return `${m.toFixed(2)} s · ${(bytes / MIB / m).toFixed(0)} MiB/s [${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}]`;
}

export function warmupBytes(bytes: number): number {
  return Math.max(MIB, Math.round(bytes / 8 / MIB) * MIB);
}

export const throughput: Measurement = {
  name: 'throughput',
  title: 'Throughput (OpenSSH client): recorded text, binary, uploads; equal crypto and defaults',
  async run(ctx: BenchContext): Promise<Result> {
    const reps = ctx.reps;
    const t: TransferContext = { signal: ctx.signal, text: ctx.env.text, wardenPid: ctx.env.warden.pid };
    const samples = new Map<string, Samples>();
    const key = (set: CryptoSetName, kind: KindName) => `${set}/${kind}`;
    for (const { set, kinds } of PLAN) for (const kind of kinds) samples.set(key(set, kind), { direct: [], warden: [], proxyjump: [] });

    const mib = (kind: KindName) => kindBytes(ctx.env.text, kind) / MIB;
    ctx.progress(`throughput: warm-up (an eighth of each transfer's size, per set, kind and path)`);
    for (const { set, kinds } of PLAN) {
      for (const kind of kinds) {
        for (const name of PATHS) {
          checkAborted(ctx.signal);
          await transfer(t, kind, ctx.env.paths[name], CRYPTO[set], warmupBytes(kindBytes(ctx.env.text, kind)));
        }
      }
    }

    for (let rep = 0; rep < reps; rep++) {
      for (const { set, kinds } of PLAN) {
        for (const kind of kinds) {
          for (const name of rotation(PATHS, rep)) {
            await ctx.settle();
            checkAborted(ctx.signal);
            const s = await transfer(t, kind, ctx.env.paths[name], CRYPTO[set], kindBytes(ctx.env.text, kind));
            samples.get(key(set, kind))![name].push(s);
            ctx.progress(`throughput rep ${rep + 1}/${reps} ${set} ${kind} ${name}: ${s.seconds.toFixed(2)} s (others ${(s.foreign * 100).toFixed(0)}%)`);
          }
        }
      }
    }

    const rows: Row[] = [];
    const notes: string[] = [
      `${mib('text-exec')} MiB per transfer for text and binary down and binary up, ${mib('text-pty')} MiB for the pty shell and the text upload; ${reps} interleaved repetitions after one warm-up of an eighth of that size per set, kind and path; path order rotated each repetition; seconds from the first payload byte to the client's exit.`,
      `Text: ${ctx.env.text.lines} lines of build-log-like text (ASCII words, ANSI colour codes on one line in eight, some UTF-8); the pty shell row types \`stty -echo; echo START; cat FILE; exit\` into a login shell (\`ssh -tt\`).`,
      `Crypto sets: "equal" = ${CRYPTO.equal.label} (forced with \`${CRYPTO.equal.opensshArgs.join(' ')}\` on every OpenSSH client hop, ProxyJump's jump hop included; Warden's target hop negotiates it by its own preference, see Checks); "defaults" = ${CRYPTO.defaults.label}.`,
    ];
    for (const { set, kinds } of PLAN) {
      for (const kind of kinds) {
        const s = samples.get(key(set, kind))!;
        const bytes = kindBytes(ctx.env.text, kind);
        const med = (n: PathName, f: (x: Sample) => number = (x) => x.seconds) => median(s[n].map(f));
        const [d, w, j] = [med('direct'), med('warden'), med('proxyjump')];
        const cpu = (n: PathName) => med(n, (x) => x.ownCpu);
        const wd = ratio(w, d);
        const judged = set === 'equal';
        rows.push({
          metric: `${KINDS[kind].label}, ${mib(kind)} MiB, ${set === 'equal' ? 'equal crypto' : "each side's defaults"}`,
          recorded: KINDS[kind].recorded,
          direct: spreadCell(s.direct.map((x) => x.seconds), bytes),
          warden: spreadCell(s.warden.map((x) => x.seconds), bytes),
          proxyjump: spreadCell(s.proxyjump.map((x) => x.seconds), bytes),
          ratio: `w/d ${fmtRatio(wd)} · pj/d ${fmtRatio(ratio(j, d))}; CPU w/d ${fmtRatio(ratio(cpu('warden'), cpu('direct')))} · pj/d ${fmtRatio(ratio(cpu('proxyjump'), cpu('direct')))}`,
          target: judged ? 'w/d ≤ 1.30x and w < pj' : '(reported)',
          ok: judged ? wd <= 1.3 && w < j : undefined,
        });
        for (const name of PATHS) {
          notes.push(
            `${set} ${kind} ${name}: seconds [${list(s[name].map((x) => x.seconds))}], wall incl. setup median ${med(name, (x) => x.wall).toFixed(2)} s, ` +
              `CPU of all bench processes median ${cpu(name).toFixed(2)} s` +
              (name === 'warden' ? ` (Warden ${med(name, (x) => x.wardenCpu).toFixed(2)} s)` : '') +
              `, others' load median ${(med(name, (x) => x.foreign) * 100).toFixed(0)}% of all cores`,
          );
        }
      }
    }
    return { rows, notes };
  },
};
