/**
 * How a kill reaches its owner, against a real redis-server: the kill channel (pub/sub) when
 * the owner listens on it, the owner's BullMQ control queue when the PUBLISH reached nobody,
 * and a timeout or instance_lost when no answer comes. The owner here is the real listener and
 * a real BullMQ worker around a recorded kill function (the session side is tested end to end
 * in test/e2e/cli.test.ts and the admin tests).
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control-client.js';
import type { ControlJob } from '../../src/control-plane.js';
import { KillListener, parseKillRequest, type KillOrder, type KillResult } from '../../src/kill-channel.js';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry, type SessionRecord } from '../../src/registry.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
import { waitUntil } from '../helpers/processes.js';

let server: RedisHandle;
let redis: Redis;
let keys: RedisKeys;
let registry: Registry;
let client: ControlClient;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});
beforeEach(() => {
  keys = new RedisKeys(uniquePrefix());
  registry = new Registry(redis, keys, { retentionMs: 60_000, historyMax: 100 });
  client = new ControlClient(redis, registry, keys);
});
afterEach(async () => {
  await client.close();
  for (const close of closers.splice(0)) await close();
});

let n = 0;
async function liveSession(instance: string): Promise<SessionRecord> {
  n++;
  const rec: SessionRecord = {
    id: `01KC${String(n).padStart(22, '0')}`, user: 'alice', asset: 'web1', account: 'deploy', remote: '10.0.0.1', instance,
    kind: 'shell', state: 'proxying', start: Date.now(), lastActivity: Date.now(), bytesIn: 0, bytesOut: 0, channelCount: 0, channels: [],
  };
  await registry.open(rec);
  await redis.set(keys.lease(instance), '1', 'PX', 60_000);
  return rec;
}

/** What the owner was asked, and the answer it gives (the control plane's kill). */
function killer(instance: string) {
  const orders: (KillOrder & { via: string })[] = [];
  const answer = (via: string) => async (order: KillOrder): Promise<KillResult> => {
    orders.push({ ...order, via });
    return { outcome: 'killed', sessionId: order.sessionId, instance, ms: 1 };
  };
  return { orders, answer };
}

function listen(instance: string, kill: (o: KillOrder) => Promise<KillResult>): KillListener {
  const subscriber = redis.duplicate();
  const listener = new KillListener({ instanceId: instance, keys, subscriber, publisher: redis, kill, warn: () => {} });
  closers.push(() => listener.stop());
  return listener;
}

function queueWorker(instance: string, kill: (o: KillOrder) => Promise<KillResult>): Worker {
  const worker = new Worker(keys.controlQueue(instance), async (job) => kill(job.data as ControlJob & KillOrder), {
    connection: redis.duplicate(), prefix: keys.bullPrefix,
  });
  closers.push(() => worker.close());
  return worker;
}

const jobsIn = async (instance: string) => {
  const queue = new Queue(keys.controlQueue(instance), { connection: redis, prefix: keys.bullPrefix });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await queue.close();
  }
};

describe('kill delivery', () => {
  it('goes over the kill channel when the owner listens, and queues no job', async () => {
    const rec = await liveSession('own-a');
    const k = killer('own-a');
    await listen('own-a', k.answer('channel')).start();
    const report = await client.kill(rec.id, { by: 'carol', reason: 'maintenance', timeoutMs: 5_000 });
    expect(report).toMatchObject({ outcome: 'killed', sessionId: rec.id, instance: 'own-a', via: 'channel' });
    expect(k.orders).toEqual([{ sessionId: rec.id, by: 'carol', reason: 'maintenance', via: 'channel' }]);
    expect(await jobsIn('own-a')).toBe(0);
  });

  it('falls back to the control queue when the PUBLISH reached nobody', async () => {
    const rec = await liveSession('own-b');
    const k = killer('own-b');
    queueWorker('own-b', k.answer('queue'));
    const report = await client.kill(rec.id, { by: 'carol', timeoutMs: 10_000 });
    expect(report).toMatchObject({ outcome: 'killed', instance: 'own-b', via: 'queue' });
    expect(k.orders).toEqual([expect.objectContaining({ sessionId: rec.id, by: 'carol', via: 'queue' })]);
  });

  it('reports a timeout when a live owner does not answer, and instance_lost when it has no lease', async () => {
    const rec = await liveSession('own-c');
    // Subscribed (so PUBLISH counts it) but never answering: an owner stuck in a long task.
    const mute = redis.duplicate();
    closers.push(() => mute.disconnect());
    await mute.subscribe(keys.killRequests('own-c'));
    expect(await client.kill(rec.id, { by: 'carol', timeoutMs: 300 })).toMatchObject({ outcome: 'timeout', instance: 'own-c' });

    await redis.del(keys.lease('own-c'));
    expect(await client.kill(rec.id, { by: 'carol', timeoutMs: 300 })).toMatchObject({ outcome: 'instance_lost', instance: 'own-c' });
    expect(await registry.get(rec.id)).toMatchObject({ state: 'finished', reason: 'instance_lost' });
  });

  it('ignores malformed and oversized requests and keeps answering the good ones', async () => {
    const rec = await liveSession('own-d');
    const k = killer('own-d');
    const warnings: string[] = [];
    const subscriber = redis.duplicate();
    const listener = new KillListener({ instanceId: 'own-d', keys, subscriber, publisher: redis, kill: k.answer('channel'), warn: (_f, msg) => warnings.push(msg) });
    closers.push(() => listener.stop());
    await listener.start();
    const good = { v: 1, client: 'a'.repeat(32), id: 1, sessionId: rec.id, by: 'carol' };
    const bad = [
      'not json', '[]', JSON.stringify({ ...good, v: 2 }), JSON.stringify({ ...good, client: 'x' }),
      JSON.stringify({ ...good, client: `${'a'.repeat(32)}:other` }), JSON.stringify({ ...good, sessionId: '../../etc' }),
      JSON.stringify({ ...good, by: '' }), JSON.stringify({ ...good, reason: 'r'.repeat(201) }), JSON.stringify({ ...good, id: -1 }),
      JSON.stringify({ ...good, pad: 'p'.repeat(5000) }),
    ];
    for (const raw of bad) expect(parseKillRequest(raw), raw.slice(0, 60)).toBeUndefined();
    for (const raw of bad) await redis.publish(keys.killRequests('own-d'), raw);
    const report = await client.kill(rec.id, { by: 'carol', timeoutMs: 5_000 });
    expect(report).toMatchObject({ outcome: 'killed' });
    await waitUntil('warnings logged', async () => warnings.length === bad.length, { timeoutMs: 5_000 });
    expect(new Set(warnings)).toEqual(new Set(['kill channel: malformed request ignored']));
    expect(k.orders.map((o) => o.sessionId)).toEqual([rec.id]);
  });
});
