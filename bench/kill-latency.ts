/**
 * Kill latency with 100 live sessions across two Warden instances: from the start of
 * `warden kill` (a new CLI process, as an admin runs it) to the exit of the user's real ssh
 * client, and the same kill through the warm admin API (ControlClient in this process, as a
 * console or HTTP API would call it). Each kill is issued against the instance that does NOT
 * own the session, so it crosses instances through Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { ControlClient } from '../src/control-client.js';
import { RedisKeys } from '../src/redis-keys.js';
import { Registry } from '../src/registry.js';
import { freePort, trackChild, waitUntil } from '../test/helpers/processes.js';
import { REPO_ROOT, uniquePrefix } from '../test/helpers/redis.js';
import { BASE_OPTIONS } from '../test/helpers/ssh-client.js';
import { spawnWarden, type WardenProcess } from '../test/helpers/warden-process.js';
import { fmtMs, percentile } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';

interface Live {
  marker: string;
  child: ChildProcess;
  exitedAt: Promise<number>;
}

let counter = 0;
function openSession(w: WardenProcess): Live {
  const marker = `kl${++counter}x`;
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', `echo ${marker}; exec sleep 600`], { stdio: ['ignore', 'pipe', 'ignore'] });
  trackChild(child);
  child.stdout!.on('data', () => {});
  return { marker, child, exitedAt: new Promise((resolve) => child.once('exit', () => resolve(performance.now()))) };
}

function cli(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/warden.js'), ...args], { stdio: 'ignore' });
  trackChild(child);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export const killLatency: Measurement = {
  name: 'kill-latency',
  title: 'Kill latency (100 live sessions on two instances)',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const prefix = uniquePrefix();
    const common = { redisUrl: env.redis.url, sshd: env.target, prefix };
    const [a, b] = await Promise.all([
      spawnWarden({ ...common, port: await freePort(), instanceId: 'bench-a' }),
      spawnWarden({ ...common, port: await freePort(), instanceId: 'bench-b' }),
    ]);
    const redis = new Redis(env.redis.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const registry = new Registry(redis, new RedisKeys(prefix), { retentionMs: 3_600_000, historyMax: 10_000 });
    const api = new ControlClient(redis, registry, registry.keys);
    const live = new Map<string, Live>();
    const target = ctx.quick ? 20 : 100;
    const kills = ctx.quick ? 20 : 100;
    try {
      const fill = async () => {
        const missing = target - live.size;
        const opened = Array.from({ length: missing }, (_, i) => openSession(i % 2 ? a : b));
        for (const s of opened) live.set(s.marker, s);
        await waitUntil('sessions registered', async () => {
          const recs = await registry.listLive();
          return opened.every((s) => recs.some((r) => r.command?.includes(s.marker)));
        }, { timeoutMs: 60_000, intervalMs: 100 });
      };
      const pick = async () => {
        const recs = await registry.listLive();
        const rec = recs.find((r) => [...live.keys()].some((m) => r.command?.includes(m)))!;
        const marker = [...live.keys()].find((m) => rec.command?.includes(m))!;
        const s = live.get(marker)!;
        live.delete(marker);
        return { rec, s, via: rec.instance === 'bench-a' ? b : a };
      };

      const cliMs: number[] = [];
      const apiMs: number[] = [];
      const ackMs: number[] = [];
      for (let i = 0; i < kills; i++) {
        checkAborted(ctx.signal);
        if (live.size < target) await fill();
        // Alternate the two ways so both see the same conditions.
        const { rec, s, via } = await pick();
        const t0 = performance.now();
        if (i % 2 === 0) {
          const code = await cli(['kill', rec.id, '--by', 'bench', '--config', via.configFile]);
          if (code !== 0) throw new Error(`warden kill exited ${code}`);
          cliMs.push((await s.exitedAt) - t0);
        } else {
          const report = await api.kill(rec.id, { by: 'bench', timeoutMs: 5_000 });
          if (report.outcome !== 'killed') throw new Error(`kill: ${report.outcome}`);
          ackMs.push(report.totalMs);
          apiMs.push((await s.exitedAt) - t0);
        }
        if (i % 20 === 19) ctx.progress(`kill latency: ${i + 1}/${kills}`);
      }
      const row = (label: string, v: number[], judge: boolean) => ({
        metric: `${label} (p50 / p99, n=${v.length})`,
        warden: `${fmtMs(percentile(v, 50))} / ${fmtMs(percentile(v, 99))}`,
        target: judge ? 'p99 ≤ 100 ms' : '(reported)',
        ok: judge ? percentile(v, 99) <= 100 : undefined,
      });
      return {
        rows: [
          row('kill: `warden kill` start → ssh client exit', cliMs, true),
          row('kill: admin API (warm) → ssh client exit', apiMs, true),
          row('kill: admin API acknowledgement', ackMs, false),
        ],
        notes: [
          `${kills} kills alternating between a new \`warden kill\` process and the warm ControlClient, ${target} live sessions kept (half on each instance), each kill sent through the other instance's config.`,
          'The CLI figure includes starting Node.js and loading the CLI modules (config, ioredis, BullMQ); the API figure is the control path itself: registry lookup, BullMQ job on the owner, the session ends, the user is told, the record is final, the acknowledgement returns.',
        ],
      };
    } finally {
      for (const s of live.values()) s.child.kill();
      await api.close();
      redis.disconnect();
      await Promise.all([a.stop(), b.stop()]);
    }
  },
};
