/**
 * The owner's watch hub (src/watch/watch-hub.ts) against a real redis-server, with a fake
 * session: a watcher announced in Redis starts publishing (screen first), the user's notice
 * follows `watch.notifyUser`, audit events name who, and the last watcher leaving (or
 * expiring) stops publishing and detaches the tap from the data path.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChannelRelay } from '../../src/channel-relay.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { RedisKeys } from '../../src/redis-keys.js';
import { decodeFrame, type WatchFrame } from '../../src/watch/watch-frames.js';
import { WatchHub } from '../../src/watch/watch-hub.js';
import { WatchPresence, type WatcherInfo } from '../../src/watch/watch-presence.js';
import type { Watchable } from '../../src/watch/session-watch.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';

let redis: RedisHandle;
const clients: Redis[] = [];
const connect = () => {
  const c = new Redis(redis.url);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

function fakeSession() {
  const relay = { n: 1, kind: 'shell', pty: { term: 'xterm', cols: 80, rows: 24 }, say: vi.fn(() => true) } as unknown as ChannelRelay;
  const target: Watchable = { terminals: () => [relay], recentOutput: () => Buffer.from('$ echo hi\r\nhi\r\n$ ') };
  return { relay, target, said: () => (relay.say as ReturnType<typeof vi.fn>).mock.calls.map((c) => String(c[0])) };
}

async function hubWith(notifyUser: boolean) {
  const keys = new RedisKeys(uniquePrefix());
  const events: Array<Record<string, unknown>> = [];
  const audit = { info: (e: Record<string, unknown>) => events.push(e) } as unknown as Logger;
  const hub = new WatchHub({ instanceId: 'inst-x', keys, redis: connect(), subscriber: connect(), publisher: connect(), notifyUser, audit, log: createLogger({ level: 'silent' }) });
  await hub.start();
  const frames: WatchFrame[] = [];
  const sub = connect();
  return { keys, hub, events, frames, sub, presence: new WatchPresence(connect(), keys) };
}

const carol: WatcherInfo = { id: 'w-carol', who: 'carol', via: 'api', from: '10.0.0.7' };

describe('watch hub', () => {
  it('publishes only while watched, screen first; tells the user; audits who', async () => {
    const h = await hubWith(true);
    const s = fakeSession();
    h.hub.register('S1', s.target);
    expect(s.target.watch).toBeUndefined();
    h.sub.on('messageBuffer', (_c: Buffer, m: Buffer) => h.frames.push(decodeFrame(m)!));
    await h.sub.subscribe(h.keys.watchStream('S1'));

    await h.presence.beat('S1', carol, 'inst-x');
    await waitUntil('screen published', async () => h.frames.length > 0);
    expect(h.frames[0]).toMatchObject({ type: 'screen', for: 'w-carol' });
    expect(s.target.watch).toBeDefined();
    s.target.watch!.output(s.relay, Buffer.from('live bytes'));
    await waitUntil('output published', async () => h.frames.some((f) => f.type === 'output' && f.data.toString() === 'live bytes'));
    expect(s.said().join('')).toContain('[warden] carol started watching this session (read-only)');
    expect(h.events).toContainEqual(expect.objectContaining({ event: 'watch_start', session: 'S1', admin: 'carol', via: 'api', remote: '10.0.0.7' }));

    await h.presence.leave('S1', carol, 'inst-x');
    await waitUntil('detached', async () => s.target.watch === undefined);
    expect(s.said().join('')).toContain('[warden] carol stopped watching this session');
    expect(h.events).toContainEqual(expect.objectContaining({ event: 'watch_stop', session: 'S1', admin: 'carol', why: 'left' }));
    await h.hub.stop();
  });

  it('keeps the user uninformed with notifyUser: false, and still audits', async () => {
    const h = await hubWith(false);
    const s = fakeSession();
    h.hub.register('S2', s.target);
    await h.presence.beat('S2', carol, 'inst-x');
    await waitUntil('watched', async () => h.hub.watchers('S2') === 1);
    h.hub.unregister('S2', 'Connection closed.');
    expect(s.target.watch).toBeUndefined();
    expect(s.said()).toEqual([]);
    expect(h.events.map((e) => [e.event, e.why])).toEqual([['watch_start', undefined], ['watch_stop', 'session_ended']]);
    await h.hub.stop();
  });

  it('stops publishing for a watcher that stopped refreshing (crashed)', async () => {
    const h = await hubWith(true);
    const s = fakeSession();
    h.hub.register('S3', s.target);
    // An entry that expires at once, as a crashed watcher's does after its TTL.
    const raw = connect();
    await raw.zadd(h.keys.watchers('S3'), Date.now() + 300, JSON.stringify(carol));
    await raw.publish(h.keys.watchControl('inst-x'), 'S3');
    await waitUntil('watched', async () => h.hub.watchers('S3') === 1);
    await waitUntil('expired watcher dropped', async () => s.target.watch === undefined, { timeoutMs: 10_000 });
    expect(h.events.map((e) => e.event)).toEqual(['watch_start', 'watch_stop']);
    await h.hub.stop();
  });
});
