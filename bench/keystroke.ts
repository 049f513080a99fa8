/**
 * Keystroke round trip: one long-lived pty shell per path (ssh2 client in this process), the
 * target running `stty raw -echo; cat`, so each byte sent comes straight back. Blocks of
 * round trips are interleaved across the paths, in two styles:
 *  - back-to-back: the next byte leaves as soon as the echo is in (every process stays hot);
 *  - paced: a 5 ms pause before each byte, so each one finds the processes asleep, as typing
 *    does. Waking a sleeping process costs far more on a VM than relaying a byte.
 * A fourth path, a bare ssh2 relay (bare-relay-server.ts: pipes and nothing else, its own
 * process as Warden is), is the floor: what any ssh2 bastion adds. Warden's own cost is its
 * figure minus that floor.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../test/helpers/processes.js';
import { startBareRelay, type BareRelay } from './bare-relay.js';
import { openPtyShell, waitForOutput, type PtySession } from './pty-session.js';
import { PATHS, type BenchPath } from './setup.js';
import { fmtMs, median, percentile, rotation, tailLabel, tailValue } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type PathName, type Result, type Row } from './types.js';

const PACED_GAP_MS = 5;

const nextTurn = (gapMs: number): Promise<void> =>
  gapMs > 0 ? sleep(gapMs) : new Promise((resolve) => setImmediate(resolve)); // setTimeout(0) is 1 ms

class Echo {
  private waiting?: { byte: number; t0: number; resolve: (ms: number) => void };
  /** Bytes that came back but were not the one awaited (should stay 0). */
  stray = 0;

  constructor(readonly session: PtySession) {
    session.stream.on('data', (d: Buffer) => {
      const w = this.waiting;
      if (!w) {
        this.stray += d.length;
        return;
      }
      this.waiting = undefined;
      if (d.length !== 1 || d[0] !== w.byte) this.stray += d.length;
      w.resolve(performance.now() - w.t0);
    });
  }

  roundTrip(byte: number): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = { byte, t0: performance.now(), resolve };
      this.session.stream.write(Buffer.of(byte));
    });
  }

  async block(n: number, gapMs: number, signal: AbortSignal, out?: number[]): Promise<void> {
    for (let i = 0; i < n; i++) {
      checkAborted(signal);
      const ms = await Promise.race([
        this.roundTrip(0x61 + (i % 26)),
        sleep(10_000).then(() => {
          throw new Error('keystroke: no echo within 10 s');
        }),
      ]);
      out?.push(ms);
      await nextTurn(gapMs);
    }
  }
}

type KeyPath = PathName | 'bare';
const KEY_PATHS: readonly KeyPath[] = [...PATHS, 'bare'];

async function openEcho(path: Pick<BenchPath, 'connect'>): Promise<Echo> {
  const session = await openPtyShell(path);
  // 'RE''ADY' in the typed (echoed) line is not "READY": only printf's output matches.
  session.stream.write(`stty raw -echo; printf 'RE''ADY'; exec cat\n`);
  await waitForOutput(session.stream, (t) => t.includes('READY'), 15_000);
  await sleep(200); // let any trailing output (a prompt redraw) pass before counting strays
  return new Echo(session);
}

type Samples = Record<KeyPath, number[]>;

function rows(style: string, target: boolean, samples: Samples): Row[] {
  const med = (n: KeyPath) => median(samples[n]);
  const p99 = (n: KeyPath) => tailValue(samples[n]);
  const ms = (v: number) => fmtMs(v, 3);
  const plus = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms`;
  const addedMed = med('warden') - med('direct');
  return [
    {
      metric: `keystroke RTT median, ${style}`,
      direct: ms(med('direct')),
      warden: ms(med('warden')),
      proxyjump: ms(med('proxyjump')),
      ratio: `added: w ${plus(addedMed)} · bare ssh2 relay ${plus(med('bare') - med('direct'))} (w over bare ${plus(med('warden') - med('bare'))}) · pj ${plus(med('proxyjump') - med('direct'))}`,
      target: target ? 'added ≤ 0.100 ms' : '(reported)',
      ok: target ? addedMed <= 0.1 : undefined,
    },
    {
      metric: `keystroke RTT ${tailLabel(samples.direct).split(' / ')[1]}, ${style} (n=${samples.direct.length} per path)`,
      direct: ms(p99('direct')),
      warden: ms(p99('warden')),
      proxyjump: ms(p99('proxyjump')),
      ratio: `added: w ${plus(p99('warden') - p99('direct'))} · bare ssh2 relay ${plus(p99('bare') - p99('direct'))} (w over bare ${plus(p99('warden') - p99('bare'))}) · pj ${plus(p99('proxyjump') - p99('direct'))}`,
      target: '(reported)',
    },
  ];
}

export const keystroke: Measurement = {
  name: 'keystroke',
  title: 'Keystroke round trip (ssh2 client, pty, raw cat)',
  async run(ctx: BenchContext): Promise<Result> {
    const warmup = ctx.quick ? 50 : 200;
    const blocks = ctx.quick ? 2 : 5;
    const perBlock = ctx.quick ? 100 : 200;
    const styles = [
      { name: 'back-to-back', gap: 0 },
      { name: `paced ${PACED_GAP_MS} ms`, gap: PACED_GAP_MS },
    ];
    const echoes = {} as Record<KeyPath, Echo>;
    let bare: BareRelay | undefined;
    try {
      bare = await startBareRelay(ctx.env.target);
      for (const name of PATHS) echoes[name] = await openEcho(ctx.env.paths[name]);
      echoes.bare = await openEcho(bare);
      for (const name of KEY_PATHS) await echoes[name].block(warmup, 0, ctx.signal);
      const out: Row[] = [];
      const notes: string[] = [
        `${blocks}×${perBlock} round trips per path and style after ${warmup} warm-up, blocks interleaved with rotated path order (direct, Warden, ProxyJump and a bare ssh2 relay).`,
        `ssh2 clients with the equal crypto set forced; negotiated on the last hop: ${KEY_PATHS.map((n) => `${n} ${echoes[n].session.conn.cipher}`).join(', ')}.`,
        'bare = bench/bare-relay-server.ts, its own Node process: ssh2 server + ssh2 client piping a pty shell, no-delay on both sockets, Warden\'s algorithm lists, nothing else.',
      ];
      for (const style of styles) {
        const samples: Samples = { direct: [], warden: [], proxyjump: [], bare: [] };
        for (let b = 0; b < blocks; b++) {
          await ctx.settle();
          for (const name of rotation(KEY_PATHS, b)) await echoes[name].block(perBlock, style.gap, ctx.signal, samples[name]);
          ctx.progress(`keystroke ${style.name} block ${b + 1}/${blocks}: median ${KEY_PATHS.map((n) => `${n} ${median(samples[n]).toFixed(3)}`).join(', ')} ms`);
        }
        out.push(...rows(style.name, true, samples));
        notes.push(`${style.name}: min/p10/p90 ms ${KEY_PATHS.map((n) => `${n} ${Math.min(...samples[n]).toFixed(3)}/${percentile(samples[n], 10).toFixed(3)}/${percentile(samples[n], 90).toFixed(3)}`).join(', ')}.`);
      }
      notes.push(`stray bytes (should be 0): ${KEY_PATHS.map((n) => `${n} ${echoes[n].stray}`).join(', ')}.`);
      return { rows: out, notes };
    } finally {
      for (const e of Object.values(echoes)) e.session.close();
      await bare?.stop();
    }
  },
};
