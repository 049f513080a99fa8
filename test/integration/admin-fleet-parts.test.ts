/**
 * The parts of the fleet-wide admin API against a real redis-server: the fleet signature
 * instances use with each other, the event hub's bounds (a slow stream is dropped, others go
 * on), and the audit stream (redacted, filtered, written off the caller's path).
 */
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetSecret, signFleetRequest, verifyFleetRequest } from '../../src/admin/fleet-auth.js';
import { EventHub } from '../../src/admin/event-hub.js';
import { localRecording } from '../../src/admin/recording-source.js';
import { AuditStream, queryAudit } from '../../src/audit/audit-stream.js';
import { createLogger } from '../../src/logger.js';
import { RedisKeys } from '../../src/redis-keys.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';

let server: RedisHandle;
let redis: Redis;
const log = createLogger({ level: 'silent' });

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('fleet signature', () => {
  it('is one secret for the fleet and opens exactly the signed request while fresh', async () => {
    const keys = new RedisKeys(uniquePrefix());
    const secret = await fleetSecret(redis, keys);
    expect((await fleetSecret(redis, keys)).equals(secret)).toBe(true);
    const now = 1_800_000_000_000;
    const sig = signFleetRequest(secret, 'GET', '/fleet/recordings/X/1', { from: 'inst.a', admin: 'ci.bot' }, now);
    expect(verifyFleetRequest(secret, 'GET', '/fleet/recordings/X/1', sig, now + 1_000)).toEqual({ from: 'inst.a', admin: 'ci.bot' });
    expect(verifyFleetRequest(secret, 'GET', '/fleet/recordings/X/2', sig, now)).toBeUndefined();
    expect(verifyFleetRequest(secret, 'POST', '/fleet/recordings/X/1', sig, now)).toBeUndefined();
    expect(verifyFleetRequest(secret, 'GET', '/fleet/recordings/X/1', sig, now + 31_000)).toBeUndefined();
    expect(verifyFleetRequest(Buffer.from('another secret'), 'GET', '/fleet/recordings/X/1', sig, now)).toBeUndefined();
    const [ts, from, , mac] = sig.split('.');
    const otherAdmin = [ts, from, Buffer.from('carol').toString('base64url'), mac].join('.');
    expect(verifyFleetRequest(secret, 'GET', '/fleet/recordings/X/1', otherAdmin, now)).toBeUndefined();
    expect(verifyFleetRequest(secret, 'GET', '/fleet/recordings/X/1', undefined, now)).toBeUndefined();
  });
});

describe('event hub', () => {
  let http: Server;
  let hub: EventHub;
  let keys: RedisKeys;
  let port = 0;

  beforeAll(async () => {
    keys = new RedisKeys(uniquePrefix());
    hub = new EventHub(redis, keys, { maxStreams: 3, heartbeatMs: 60_000, maxBuffered: 64 * 1024 }, log);
    http = createServer((_req, res: ServerResponse) => {
      void hub.reserve().then(
        () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(': connected\n\n');
          hub.attach(res);
        },
        (err: Error) => res.writeHead(503).end(err.message),
      );
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
  });
  afterAll(async () => {
    hub?.close();
    await new Promise((resolve) => http?.close(resolve));
  });

  const connect = () =>
    new Promise<IncomingMessage>((resolve, reject) => request({ port, host: '127.0.0.1', path: '/' }, resolve).on('error', reject).end());

  it('drops a stream that does not drain, keeps the others, and caps how many are open', async () => {
    const fast = await connect();
    let fastText = '';
    fast.on('data', (d: Buffer) => (fastText += d.toString('utf8')));
    const slow = await connect();
    slow.pause(); // never reads: its socket and then its response buffer fill up
    await waitUntil('both attached', async () => hub.streams === 2);
    const third = await connect();
    expect(third.statusCode).toBe(200);
    third.destroy();
    await waitUntil('third gone', async () => hub.streams === 2);

    const big = 'x'.repeat(16 * 1024);
    let sent = 0;
    await waitUntil('slow stream dropped', async () => {
      for (let i = 0; i < 50; i++) await redis.publish(keys.events, JSON.stringify({ type: 'session_state', session: `S${sent++}`, pad: big }));
      return hub.dropped === 1;
    }, { timeoutMs: 30_000 });
    expect(hub.streams).toBe(1);
    // Its connection was closed by the server: reading again finds the end.
    const slowClosed = new Promise<void>((resolve) => slow.socket.once('close', () => resolve()));
    slow.on('error', () => {});
    slow.resume();
    await slowClosed;
    await redis.publish(keys.events, JSON.stringify({ type: 'instance_up', instance: 'after' }));
    await redis.publish(keys.events, 'not json');
    await redis.publish(keys.events, JSON.stringify({ type: 'bad\ntype', instance: 'x' }));
    await waitUntil('fast stream goes on', async () => fastText.includes('"instance":"after"'), { timeoutMs: 30_000 });
    expect(fastText).toContain('event: instance_up\ndata: {"type":"instance_up","instance":"after"}\n\n');
    expect(fastText).not.toContain('bad');
    expect(fastText).not.toContain('not json');

    // The cap: 3 places, one free after the drop.
    const c2 = await connect();
    const c3 = await connect();
    await waitUntil('three attached', async () => hub.streams === 3);
    const refused = await connect();
    expect(refused.statusCode).toBe(503);
    for (const c of [fast, c2, c3, refused]) c.destroy();
  }, 60_000);
});

describe('audit stream', () => {
  it('copies audit events fleet-wide, redacted, and filters them', async () => {
    const keys = new RedisKeys(uniquePrefix());
    const a = new AuditStream(redis, keys, 'inst-a', log);
    const b = new AuditStream(redis, keys, 'inst-b', log);
    const t0 = Date.now();
    a.onAudit({ event: 'admin_login', admin: 'carol', remote: '127.0.0.1' });
    b.onAudit({ event: 'auth_failure', session: '01AAAA', login: 'bob', method: 'password', password: 'hunter2', nested: { passphrase: 'p' } });
    b.onAudit({ event: 'session_end', session: '01AAAA', user: 'alice', reason: 'client_closed' });
    a.onAudit({ msg: 'not an event' });
    // Nothing is written by the caller: the timer does it.
    expect(await redis.xlen(keys.auditEvents)).toBe(0);
    await waitUntil('flushed', async () => (await redis.xlen(keys.auditEvents)) === 3);
    const all = await queryAudit(redis, keys, { limit: 10 });
    expect(all.map((e) => [e.event, e.instance])).toEqual([['session_end', 'inst-b'], ['auth_failure', 'inst-b'], ['admin_login', 'inst-a']]);
    expect(JSON.stringify(all)).not.toMatch(/hunter2|"p"/);
    expect(all[1]).toMatchObject({ password: '[redacted]', nested: { passphrase: '[redacted]' } });
    expect((await queryAudit(redis, keys, { user: 'carol', limit: 10 })).map((e) => e.event)).toEqual(['admin_login']);
    expect((await queryAudit(redis, keys, { user: 'bob', limit: 10 })).map((e) => e.event)).toEqual(['auth_failure']);
    expect((await queryAudit(redis, keys, { session: '01aa', limit: 10 })).map((e) => e.event)).toEqual(['session_end', 'auth_failure']);
    expect((await queryAudit(redis, keys, { event: 'session_end', limit: 10 })).length).toBe(1);
    expect(await queryAudit(redis, keys, { since: Date.now() + 120_000, limit: 10 })).toEqual([]);
    expect((await queryAudit(redis, keys, { since: t0 - 1_000, limit: 2 })).length).toBe(2);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('local recording files', () => {
  it('never serves a file outside the recordings dir, nor through a symlink', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'warden-rec-'));
    const cfg = { dataDir, recording: { dir: undefined } } as unknown as Parameters<typeof localRecording>[0];
    const id = '01AAAAAAAAAAAAAAAAAAAAAAAA';
    const start = Date.UTC(2026, 0, 2);
    const rec = { id, start, state: 'finished', channels: [{ n: 1, kind: 'exec', start, bytesIn: 0, bytesOut: 0 }], channelCount: 1 } as unknown as Parameters<typeof localRecording>[1];
    // A registry entry pointing out of the dir (Redis edited by someone).
    const outside = { ...rec, recordings: { 1: { file: '/etc/passwd', sha256: 'x', chainHead: 'y' } } };
    await expect(localRecording(cfg, outside, 1)).rejects.toThrow(/outside the recordings dir/);
    const day = join(dataDir, 'recordings', '2026-01-02');
    mkdirSync(day, { recursive: true });
    symlinkSync('/etc/passwd', join(day, `${id}.1.cast`));
    await expect(localRecording(cfg, rec, 1)).rejects.toThrow(/not a regular file/);
    await expect(localRecording(cfg, rec, 2)).rejects.toThrow(/No recording found for: channel 2/);
  });
});
