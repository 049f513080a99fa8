/**
 * How long the registry shows a lost instance's sessions as live: two Warden processes with
 * the shipped instance timings (heartbeat, lease, reaper) share one fleet; one carries live
 * sessions (real OpenSSH clients running `sleep`) and is killed with SIGKILL, so nothing it
 * owns is finalised by itself. Timed from the kill to the moment an outside reader of the
 * registry (this process) sees every one of its sessions `finished` with `instance_lost` —
 * the survivor's reaper did it. Not Warden's own timestamps.
 *
 * The promise in the README: a lost instance's sessions are final within 15 s with the defaults.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RedisKeys } from '../src/redis-keys.js';
import { Registry } from '../src/registry.js';
import { sleep, trackChild, waitUntil } from '../test/helpers/processes.js';
import { uniquePrefix } from '../test/helpers/redis.js';
import { BASE_OPTIONS } from '../test/helpers/ssh-client.js';
import { fmtMs, list, median } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';
import { startBenchWarden, type BenchWarden } from './warden-process.js';

const SESSIONS = 20;
const BOUND_MS = 15_000;
const POLL_MS = 50;

function openSession(w: BenchWarden): ChildProcess {
  const child = spawn(
    'ssh',
    [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', 'exec sleep 600'],
    { stdio: 'ignore' },
  );
  trackChild(child);
  return child;
}

/** One run: a fresh fleet of two, SESSIONS live on the victim, SIGKILL, wait for the reaper. */
async function oneLoss(ctx: BenchContext, registry: Registry, redisPrefix: string): Promise<number> {
  const { env } = ctx;
  const common = { redisUrl: env.redis.url, target: env.target, redisPrefix };
  const [victim, survivor] = await Promise.all([
    startBenchWarden({ ...common, instanceId: `loss-victim` }),
    startBenchWarden({ ...common, instanceId: `loss-survivor` }),
  ]);
  const clients: ChildProcess[] = [];
  try {
    // One login at a time, as users arrive: all at once from one address would meet the
    // shipped per-source admission limit, which is not what this row is about.
    let ids: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      clients.push(openSession(victim));
      await waitUntil('session live on the victim', async () => {
        ids = (await registry.listLive('loss-victim')).map((r) => r.id);
        return ids.length === i + 1;
      }, { timeoutMs: 60_000, intervalMs: 50 });
    }
    // Let at least one heartbeat of each instance land, as in a fleet that has been up a while.
    await sleep(4_000);
    const t0 = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    for (;;) {
      checkAborted(ctx.signal);
      const recs = await Promise.all(ids.map((id) => registry.get(id)));
      if (recs.every((r) => r?.state === 'finished')) {
        const wrong = recs.filter((r) => r?.reason !== 'instance_lost');
        if (wrong.length > 0) throw new Error(`${wrong.length} session(s) of the killed instance ended with ${wrong[0]?.reason}, not instance_lost`);
        return performance.now() - t0;
      }
      if (performance.now() - t0 > 120_000) throw new Error('the killed instance\'s sessions were not finalised within 120 s');
      await sleep(POLL_MS);
    }
  } finally {
    for (const c of clients) c.kill();
    await Promise.all([victim.stop().catch(() => undefined), survivor.stop()]);
  }
}

export const instanceLoss: Measurement = {
  name: 'instance-loss',
  title: 'Instance lost (SIGKILL): time until its sessions are final in the registry',
  async run(ctx: BenchContext): Promise<Result> {
    const redis = new Redis(ctx.env.redis.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const runs = ctx.quick ? 1 : ctx.reps;
    const times: number[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        await ctx.settle();
        // A fresh fleet (prefix) per run: no earlier run's instance or lease in the way.
        const redisPrefix = uniquePrefix();
        const registry = new Registry(redis, new RedisKeys(redisPrefix), { retentionMs: 3_600_000, historyMax: 10_000 });
        times.push(await oneLoss(ctx, registry, redisPrefix));
        ctx.progress(`instance loss: run ${i + 1}/${runs}: ${fmtMs(times.at(-1)!, 0)}`);
      }
      const max = Math.max(...times);
      return {
        rows: [{
          metric: `instance lost: SIGKILL → all ${SESSIONS} of its sessions final (\`instance_lost\`), shipped timings (min / median / max, ${runs} runs)`,
          warden: `${fmtMs(Math.min(...times), 0)} / ${fmtMs(median(times), 0)} / ${fmtMs(max, 0)}`,
          target: `max ≤ ${BOUND_MS / 1000} s`,
          ok: max <= BOUND_MS,
        }],
        notes: [`instance loss runs (ms): ${list(times, 0)}. Each run: a fresh two-instance fleet, ${SESSIONS} live \`ssh … sleep\` sessions on the victim, 4 s of normal heartbeats, then SIGKILL; the registry is polled every ${POLL_MS} ms by the benchmark.`],
      };
    } finally {
      redis.disconnect();
    }
  },
};
