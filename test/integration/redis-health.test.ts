/**
 * The Redis health probe against a real redis-server: a pause of Warden's own event loop (a
 * long GC, a starved CPU) is not a Redis outage, a frozen server is.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisHealth, type Pingable } from '../../src/redis-health.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';

let server: RedisHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  // The probe's settings in Warden: no offline queue, so a PING while disconnected fails at once.
  redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const DEADLINE_MS = 100;

/** The real connection, and the main thread blocked right after each PING is written. */
function stallingProbe(stallMs: () => number): Pingable & { pings: number } {
  return {
    pings: 0,
    get status() {
      return redis.status;
    },
    ping() {
      this.pings++;
      const answer = redis.ping();
      const until = Date.now() + stallMs();
      while (Date.now() < until) {
        // Busy: the answer arrives in the socket while no callback can run.
      }
      return answer;
    },
  };
}

function watch(probe: Pingable) {
  const changes: boolean[] = [];
  const health = new RedisHealth(probe, [probe], { intervalMs: 20, deadlineMs: DEADLINE_MS }, pino({ level: 'silent' }));
  health.onChange((up) => changes.push(up));
  health.start();
  return { health, changes };
}

describe('RedisHealth with a real server', () => {
  it('stays available through stalls of its own event loop three times the deadline', async () => {
    const probe = stallingProbe(() => 3 * DEADLINE_MS);
    const { health, changes } = watch(probe);
    try {
      await waitUntil('five stalled PINGs', async () => probe.pings >= 5, { timeoutMs: 10_000, intervalMs: 20 });
      expect(changes, 'no outage reported for a stall of our own').toEqual([]);
      expect(health.available).toBe(true);
    } finally {
      health.stop();
    }
  });

  it('a frozen server (SIGSTOP) is unavailable once a PING goes unanswered, and available again after SIGCONT', async () => {
    const probe = stallingProbe(() => 0);
    const { health, changes } = watch(probe);
    try {
      await waitUntil('a first answered PING', async () => probe.pings >= 2, { timeoutMs: 5_000, intervalMs: 20 });
      server.signal('SIGSTOP');
      await waitUntil('unavailable', async () => !health.available, { timeoutMs: 5_000, intervalMs: 10 });
      server.signal('SIGCONT');
      await waitUntil('available again', async () => health.available, { timeoutMs: 5_000, intervalMs: 10 });
      expect(changes).toEqual([false, true]);
    } finally {
      server.signal('SIGCONT');
      health.stop();
    }
  });
});
