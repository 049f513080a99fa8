/**
 * Live watch, against the bench's Warden:
 *  - lag: a pty shell (ssh2 client in this process) running `stty raw -echo; cat`, watched by
 *    an in-process watcher (src/watch/watch-client.ts, straight against Redis, as
 *    `warden watch` is). Each byte sent comes back to the user's client and, via the owner's
 *    batched publish, to the watcher; the lag is the watcher's arrival minus the user's, both
 *    seen by this process's clock. Paced like typing.
 *  - throughput: `cat` of the text file in a pty shell, timed to a marker at the user's
 *    client, after one uncounted cat, in ABBA order: runs with no watcher and with one
 *    `warden watch` process attached (its output drained from a pipe). The loss is
 *    1 - watched / unwatched throughput, per neighbouring pair, median of the pairs.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RedisKeys } from '../src/redis-keys.js';
import { Registry } from '../src/registry.js';
import { startWatch, type WatchHandle } from '../src/watch/watch-client.js';
import { sleep, trackChild, waitUntil } from '../test/helpers/processes.js';
import { REPO_ROOT } from '../test/helpers/redis.js';
import { openPtyShell, waitForOutput, type PtySession } from './pty-session.js';
import { fmtMiBps, fmtTail, median, percentile, tailLabel, tailValue } from './stats.js';
import { processCpuSeconds } from './proc-stats.js';
import { catText, workingBytes } from './transfers.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';

const LAG_SAMPLES = 300;
const PACE_MS = 10;
const LAG_TARGET_MS = 50;
const LOSS_TARGET = 0.1;

/** Open a pty shell and find its record (the newest live shell that was not there before). */
async function shellWithId(ctx: BenchContext, registry: Registry): Promise<{ session: PtySession; id: string }> {
  const before = new Set((await registry.listLive()).map((r) => r.id));
  const session = await openPtyShell(ctx.env.paths.warden);
  let id = '';
  await waitUntil('the bench shell in the registry', async () => {
    id = (await registry.listLive()).find((r) => !before.has(r.id) && r.kind === 'shell')?.id ?? '';
    return id !== '';
  }, { timeoutMs: 15_000 });
  return { session, id };
}

async function measureLag(ctx: BenchContext, registry: Registry): Promise<number[]> {
  const { session, id } = await shellWithId(ctx, registry);
  let watch: WatchHandle | undefined;
  try {
    session.stream.write(`stty raw -echo; printf 'RE''ADY'; exec cat\n`);
    await waitForOutput(session.stream, (t) => t.includes('READY'), 15_000);
    await sleep(200);
    const atUser = new Map<number, number>();
    const atWatcher = new Map<number, number>();
    session.stream.on('data', (d: Buffer) => {
      const t = performance.now();
      for (const b of d) if (!atUser.has(b)) atUser.set(b, t);
    });
    watch = await startWatch({
      registry, sessionId: id, who: 'bench', via: 'cli', from: 'bench',
      sink: {
        screen: () => {},
        resize: () => {},
        output: (d) => {
          const t = performance.now();
          for (const b of d) if (!atWatcher.has(b)) atWatcher.set(b, t);
        },
      },
    });
    const lags: number[] = [];
    for (let i = 0; i < LAG_SAMPLES; i++) {
      checkAborted(ctx.signal);
      const byte = 0x21 + (i % 90); // printable, one per sample: each map entry is this sample's
      atUser.delete(byte);
      atWatcher.delete(byte);
      session.stream.write(Buffer.of(byte));
      await waitUntil('echo at the user and at the watcher', async () => atUser.has(byte) && atWatcher.has(byte), { timeoutMs: 10_000, intervalMs: 1 });
      lags.push(atWatcher.get(byte)! - atUser.get(byte)!);
      await sleep(PACE_MS);
    }
    return lags;
  } finally {
    await watch?.stop();
    session.close();
  }
}

/** Resolve when `marker` has gone by (only a short tail is kept: the output is many MiB). */
function markerSeen(session: PtySession, marker: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = '';
    const timer = setTimeout(() => finish(new Error(`no ${marker} within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer) => {
      tail = (tail + d.toString('latin1')).slice(-(marker.length * 4));
      if (tail.includes(marker)) finish();
    };
    const finish = (err?: Error) => {
      clearTimeout(timer);
      session.stream.off('data', onData);
      if (err) reject(err);
      else resolve();
    };
    session.stream.on('data', onData);
  });
}

/** Seconds to `cat` the text file in a pty shell, to a marker at the user's client. */
async function catOnce(session: PtySession, command: string): Promise<number> {
  const t0 = performance.now();
  const done = markerSeen(session, 'CATDONE', 300_000);
  session.stream.write(`${command}; echo CAT''DONE\n`);
  await done;
  return (performance.now() - t0) / 1000;
}

/** CPU seconds per cat, of Warden, redis-server and the watcher process (0 when none). */
interface CatCpu {
  warden: number;
  redis: number;
  watcher: number;
}

async function measureThroughput(
  ctx: BenchContext,
  registry: Registry,
  redisPid: number,
): Promise<{ none: number[]; watched: number[]; bytes: number; cpuNone: CatCpu[]; cpuWatched: CatCpu[]; receivedMiB: number[] }> {
  const { session, id } = await shellWithId(ctx, registry);
  const none: number[] = [];
  const watched: number[] = [];
  const bytes = workingBytes(ctx.env.text);
  const command = catText(ctx.env.text, bytes);
  const cpuNone: CatCpu[] = [];
  const cpuWatched: CatCpu[] = [];
  const receivedMiB: number[] = [];
  const wardenPid = ctx.env.warden.pid;
  /** Runs one cat and returns its seconds; `watcherPid` is also metered when given. */
  const metered = async (into: CatCpu[], watcherPid?: number): Promise<number> => {
    const before = [processCpuSeconds(wardenPid), processCpuSeconds(redisPid), watcherPid ? processCpuSeconds(watcherPid) : 0];
    const seconds = await catOnce(session, command);
    const after = [processCpuSeconds(wardenPid), processCpuSeconds(redisPid), watcherPid ? processCpuSeconds(watcherPid) : 0];
    into.push({ warden: after[0]! - before[0]!, redis: after[1]! - before[1]!, watcher: after[2]! - before[2]! });
    return seconds;
  };
  try {
    session.stream.write('stty -echo; PS1=\n');
    await sleep(300);
    // One cat first that is not counted: in the runs logged, the first pass after setup ran
    // 25–50% slower than the rest, and it always fell on the no-watcher side.
    await catOnce(session, command);
    // Then ABBA order (none, watched, watched, none, ...), so a drift of the machine over the
    // runs weighs on both sides alike. Twelve of each in a full run: single pairs range over
    // ±15% here, and with five of each, six runs of this section gave losses from -2% to 16%.
    const each = ctx.quick ? ctx.reps : 12;
    for (let rep = 0; rep < each * 2; rep++) {
      checkAborted(ctx.signal);
      await ctx.settle();
      if (rep % 4 === 0 || rep % 4 === 3) {
        none.push(await metered(cpuNone));
        ctx.progress(`cat, no watcher: ${none.at(-1)!.toFixed(2)} s`);
        continue;
      }
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/warden.js'), 'watch', id, '--config', ctx.env.warden.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      trackChild(child);
      let seen = 0;
      child.stdout.on('data', (d: Buffer) => (seen += d.length));
      child.stderr.resume();
      await waitUntil('the watcher has its screen', async () => seen > 0, { timeoutMs: 20_000 });
      const seenBefore = seen;
      watched.push(await metered(cpuWatched, child.pid));
      receivedMiB.push((seen - seenBefore) / 1048576);
      ctx.progress(`cat, one watcher: ${watched.at(-1)!.toFixed(2)} s (watcher received ${receivedMiB.at(-1)!.toFixed(1)} MiB)`);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  } finally {
    session.close();
  }
  return { none, watched, bytes, cpuNone, cpuWatched, receivedMiB };
}

export const watch: Measurement = {
  name: 'watch',
  title: 'Live watch: lag at the watcher, relay throughput with a watcher',
  async run(ctx: BenchContext): Promise<Result> {
    const redis = new Redis(ctx.env.redis.url);
    try {
      const registry = new Registry(redis, new RedisKeys(ctx.env.warden.redisPrefix), { retentionMs: 3_600_000, historyMax: 10_000 });
      await ctx.settle();
      const lags = await measureLag(ctx, registry);
      ctx.progress(`watch lag p50 ${percentile(lags, 50).toFixed(2)} ms, p99 ${percentile(lags, 99).toFixed(2)} ms (n=${lags.length})`);
      const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
      const t = await measureThroughput(ctx, registry, redisPid);
      const cpu = (runs: CatCpu[], k: keyof CatCpu) => median(runs.map((r) => r[k])).toFixed(2);
      // Judged per pair: runs 2k and 2k+1 are neighbours, one of each (ABBA), and the loss is
      // the median of the pairs' losses. The speed of this VM drifts by more than the effect
      // within minutes (the same pty cat cost Warden's main thread 22.6 and 34.5 ms/MiB in two
      // runs of text-cpu-split.mts), so a ratio of the two sides' medians mixes runs minutes
      // apart; it is given in the notes too.
      const pairLosses = t.none.map((n, k) => 1 - n / t.watched[k]!);
      const loss = median(pairLosses);
      const lossOfMedians = 1 - median(t.none) / median(t.watched);
      return {
        rows: [
          {
            metric: `watch lag (watcher − user), ${tailLabel(lags)}, n=${lags.length}`,
            warden: fmtTail(lags, 1),
            target: `p99 <= ${LAG_TARGET_MS} ms`,
            ok: tailValue(lags) <= LAG_TARGET_MS,
          },
          {
            metric: `relay throughput, pty cat ${(t.bytes / 1048576).toFixed(0)} MiB: no watcher / one watcher`,
            warden: `${fmtMiBps(t.bytes, median(t.none))} / ${fmtMiBps(t.bytes, median(t.watched))}`,
            ratio: `loss ${(loss * 100).toFixed(1)}% (median of ${pairLosses.length} pairs)`,
            target: `loss <= ${LOSS_TARGET * 100}%`,
            ok: loss <= LOSS_TARGET,
          },
        ],
        notes: [
          `lag samples: min ${Math.min(...lags).toFixed(2)} ms, p90 ${percentile(lags, 90).toFixed(2)} ms, max ${Math.max(...lags).toFixed(2)} ms`,
          `throughput runs (s), no watcher: ${t.none.map((s) => s.toFixed(2)).join(', ')}; one watcher: ${t.watched.map((s) => s.toFixed(2)).join(', ')}`,
          `loss per pair (no watcher, one watcher; neighbours in ABBA order): ${pairLosses.map((l) => `${(l * 100).toFixed(1)}%`).join(', ')}; the two sides' medians instead give ${(lossOfMedians * 100).toFixed(1)}%`,
          `CPU seconds per cat (medians), no watcher: Warden ${cpu(t.cpuNone, 'warden')}, redis-server ${cpu(t.cpuNone, 'redis')}; one watcher: Warden ${cpu(t.cpuWatched, 'warden')}, redis-server ${cpu(t.cpuWatched, 'redis')}, the \`warden watch\` process ${cpu(t.cpuWatched, 'watcher')}`,
          `the watcher received ${t.receivedMiB.map((m) => m.toFixed(1)).join(', ')} MiB of each ${(t.bytes / 1048576).toFixed(0)} MiB cat (the rest dropped at the owner while Redis lagged, then a fresh screen)`,
        ],
      };
    } finally {
      redis.disconnect();
    }
  },
};
