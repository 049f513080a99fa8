/**
 * Idle-disconnect lateness: sessions with a 3 s idle timeout (1 s warning) that never type;
 * lateness = (record finish) − (last activity + idle timeout), both taken by Warden's clock
 * from the registry, over ≥100 sessions opened in waves.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisKeys } from '../src/redis-keys.js';
import { Registry } from '../src/registry.js';
import { Client } from '../src/ssh2.js';
import { freePort, waitUntil } from '../test/helpers/processes.js';
import { uniquePrefix } from '../test/helpers/redis.js';
import { spawnWarden } from '../test/helpers/warden-process.js';
import { fmtMs, percentile } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';

const TIMEOUT_MS = 3_000;

function openShell(port: number, key: Buffer): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('error', reject);
    c.on('ready', () =>
      c.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, st) => {
        if (err) return reject(err);
        st.on('data', () => {});
        st.on('close', () => c.end());
        resolve(c);
      }),
    );
    c.connect({ host: '127.0.0.1', port, username: 'alice@target@idle1', privateKey: key });
  });
}

export const idleLateness: Measurement = {
  name: 'idle-lateness',
  title: 'Idle-disconnect lateness',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const prefix = uniquePrefix();
    const w = await spawnWarden({
      redisUrl: env.redis.url, sshd: env.target, prefix, port: await freePort(),
      extraGrants: '  - { users: [alice], assets: [idle1], accounts: [target], session: { idleTimeout: 3s, idleWarning: 1s } }',
    });
    const redis = new Redis(env.redis.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const registry = new Registry(redis, new RedisKeys(prefix), { retentionMs: 3_600_000, historyMax: 10_000 });
    const key = readFileSync(w.aliceKey);
    const total = ctx.quick ? 30 : 120;
    try {
      // A steady arrival rate (10 sessions/s), as users log in, rather than one burst.
      const opening: Promise<unknown>[] = [];
      for (let i = 0; i < total; i++) {
        checkAborted(ctx.signal);
        opening.push(openShell(w.port, key));
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(opening);
      await waitUntil('all idle sessions ended', async () => (await registry.liveIds()).length === 0, { timeoutMs: 60_000, intervalMs: 200 });
      const recs = (await registry.listRecent(total + 10)).filter((r) => r.asset === 'idle1');
      const late = recs.filter((r) => r.reason === 'idle_timeout').map((r) => r.finish! - r.lastActivity - TIMEOUT_MS);
      const other = recs.length - late.length;
      return {
        rows: [
          {
            metric: `idle disconnect lateness (p50 / p99, n=${late.length})`,
            warden: `${fmtMs(percentile(late, 50))} / ${fmtMs(percentile(late, 99))}`,
            target: 'p99 ≤ 1 s',
            ok: late.length >= total * 0.95 && percentile(late, 99) <= 1_000,
          },
        ],
        notes: [
          `${total} sessions opened at 10 per second with a 3 s idle timeout and 1 s warning; lateness is finish − (last activity + 3 s) from the registry (Warden's clock; the idle clock starts when the session is ready). ${other} sessions ended otherwise.`,
          `min ${Math.min(...late).toFixed(0)} ms, max ${Math.max(...late).toFixed(0)} ms.`,
        ],
      };
    } finally {
      redis.disconnect();
      await w.stop();
    }
  },
};
