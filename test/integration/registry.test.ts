/** The registry's atomic scripts against a real redis-server started from redis.conf. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InstanceRegistry } from '../../src/instance-registry.js';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry, type SessionRecord } from '../../src/registry.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';

let server: RedisHandle;
let redis: Redis;
let registry: Registry;
let keys: RedisKeys;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});
beforeEach(() => {
  keys = new RedisKeys(uniquePrefix());
  registry = new Registry(redis, keys, { retentionMs: 60_000, historyMax: 3 });
});

let n = 0;
function rec(over: Partial<SessionRecord> = {}): SessionRecord {
  n++;
  return { id: `01TEST${String(n).padStart(20, '0')}`, user: 'alice', asset: 'web1', account: 'deploy', remote: '10.0.0.1', instance: 'i1', kind: 'shell', state: 'proxying', start: 1000, lastActivity: 1000, bytesIn: 0, bytesOut: 0, channelCount: 0, channels: [], ...over };
}

describe('session records', () => {
  it('opens into the live sets and finishes into history, once', async () => {
    const r = rec();
    expect(await registry.open(r)).toBe(true);
    expect(await registry.liveIds()).toEqual([r.id]);
    expect(await registry.liveIds('i1')).toEqual([r.id]);
    expect(await registry.finish({ ...r, reason: 'client_closed', exitStatus: '0' }, 5000)).toBe(true);
    expect(await registry.liveIds()).toEqual([]);
    expect(await registry.liveIds('i1')).toEqual([]);
    expect(await registry.get(r.id)).toMatchObject({ state: 'finished', reason: 'client_closed', finish: 5000, exitStatus: '0', user: 'alice' });
    expect(await redis.pttl(keys.session(r.id))).toBeGreaterThan(50_000);
    expect(await registry.finish({ ...r, reason: 'admin_kill' }, 6000)).toBe(false);
    expect((await registry.get(r.id))!.reason).toBe('client_closed');
  });

  it('is monotonic: a finished record is never made live again, whatever arrives late', async () => {
    const r = rec();
    await registry.open(r);
    await registry.finish({ ...r, reason: 'target_closed' });
    expect(await registry.open(r)).toBe(false);
    expect(await registry.update(r.id, { state: 'proxying' })).toBe(false);
    expect(await registry.liveIds()).toEqual([]);
    expect((await registry.get(r.id))!.state).toBe('finished');
  });

  it('rebuilds a complete record when finishing one Redis lost', async () => {
    const r = rec({ command: 'uptime' });
    await registry.finish({ ...r, reason: 'client_closed' });
    expect(await registry.get(r.id)).toMatchObject({ user: 'alice', asset: 'web1', command: 'uptime', state: 'finished' });
  });

  it('keeps the history bounded, deleting the records it drops', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = rec();
      ids.push(r.id);
      await registry.open(r);
      await registry.finish({ ...r, reason: 'client_closed' }, 10_000 + i);
    }
    expect((await registry.listRecent(10)).map((x) => x.id)).toEqual(ids.slice(2).reverse());
    expect(await redis.exists(keys.session(ids[0]!))).toBe(0);
  });

  it('drops history past the retention', async () => {
    const old = rec();
    await registry.finish({ ...old, reason: 'client_closed' }, 1_000);
    const fresh = rec();
    await registry.finish({ ...fresh, reason: 'client_closed' }, 100_000);
    expect((await registry.listRecent(10)).map((x) => x.id)).toEqual([fresh.id]);
  });

  it('resolves unique prefixes, case-insensitively, and refuses ambiguous ones', async () => {
    const a = rec({ id: '01HAAAAAAAAAAAAAAAAAAAAAAA' });
    const b = rec({ id: '01HAAAAAAAAAAAAAAAAAAAAAAB' });
    await registry.open(a);
    await registry.open(b);
    expect(await registry.resolve('01haaaaaaaaaaaaaaaaaaaaaab')).toBe(b.id);
    await expect(registry.resolve('01HA')).rejects.toThrow(/matches more than one session/);
    await expect(registry.resolve('01HZ')).rejects.toThrow(/No session matches/);
    // A whole id is looked up directly: live, finished, or neither.
    const done = rec({ id: '01HBBBBBBBBBBBBBBBBBBBBBBB' });
    await registry.open(done);
    await registry.finish({ ...done, reason: 'client_closed' }, 100_000);
    expect(await registry.resolve(' 01hbbbbbbbbbbbbbbbbbbbbbbb ')).toBe(done.id);
    expect(await registry.resolve('01HAAAAAAAAAAAAAAAAAAAAAAA')).toBe(a.id);
    await expect(registry.resolve('01HAAAAAAAAAAAAAAAAAAAAAAC')).rejects.toThrow(/No session matches/);
  });
});

describe('instances and the reaper script', () => {
  it('reaps only instances without a lease, and only their sessions', async () => {
    const instances = new InstanceRegistry(redis, keys);
    const info = { host: 'h', pid: 1, version: '0', started: 1, sessions: 1, address: '', counts: '' };
    await instances.heartbeat({ ...info, id: 'alive' }, 10_000);
    await instances.heartbeat({ ...info, id: 'dead' }, 1);
    const mine = rec({ instance: 'alive' });
    const theirs = rec({ instance: 'dead' });
    await registry.open(mine);
    await registry.open(theirs);
    await new Promise((r) => setTimeout(r, 20));
    expect(await registry.reapInstance('alive')).toEqual([]);
    expect(await registry.reapInstance('dead')).toEqual([theirs.id]);
    expect(await registry.get(theirs.id)).toMatchObject({ state: 'finished', reason: 'instance_lost' });
    expect(await registry.liveIds()).toEqual([mine.id]);
    expect((await instances.list()).map((i) => [i.id, i.alive])).toEqual(expect.arrayContaining([['alive', true], ['dead', false]]));
    expect(await registry.reapInstance('alive', { force: true })).toEqual([mine.id]);
  });

  it('lets exactly one owner hold the reaper lock', async () => {
    expect(await registry.acquireLock(keys.reaperLock, 'a', 5_000)).toBe(true);
    expect(await registry.acquireLock(keys.reaperLock, 'b', 5_000)).toBe(false);
    expect(await registry.acquireLock(keys.reaperLock, 'a', 5_000)).toBe(true);
  });
});
