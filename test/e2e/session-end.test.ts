/**
 * What a session leaves behind when it ends, and how it is recorded: no pending control jobs,
 * a keepalive timeout recorded as such, BullMQ keys inside the hash tag (with jobs from the
 * legacy prefix moved, not lost).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/ssh2.js';
import { RedisKeys } from '../../src/redis-keys.js';
import { trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startWarden, type WardenHandle } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let conn: Redis;
let aliceKey: Buffer;
const prefix = uniquePrefix();
const legacyCommand = `legacy-${prefix}`;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd({ config: { MaxStartups: '100:30:200' } })]);
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
  // A command log entry left in the legacy (untagged) queue by an older version.
  const legacy = new Queue('commands', { connection: conn, prefix: `${prefix}:bull` });
  await legacy.add('command', { session: '01LEGACY', user: 'alice', asset: 'web1', account: 'target', command: legacyCommand, at: Date.now(), offset: 0 });
  await legacy.close();
  warden = await startWarden({ redisUrl: redis.url, sshd, prefix, extraYaml: 'clientKeepaliveInterval: 1s' });
  aliceKey = readFileSync(warden.aliceKey);
});

afterAll(async () => {
  await warden?.stop();
  conn?.disconnect();
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

function shortSession(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('error', reject);
    c.once('ready', () =>
      c.exec('true', (err, ch) => {
        if (err) return reject(err);
        ch.resume();
        ch.on('close', () => c.end());
      }),
    );
    c.once('close', () => resolve());
    // A key, not a password: scrypt on every one of 500 logins is the slow part on a busy machine.
    c.connect({ host: '127.0.0.1', port: warden.port, username: 'alice@target@web1', privateKey: aliceKey, readyTimeout: 30_000 });
  });
}

describe('control jobs', () => {
  it('after 500 short sessions the control queue holds no idle job of a finished session', async () => {
    let next = 0;
    const worker = async () => {
      while (next < 500) {
        next++;
        await shortSession();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const { instance } = warden;
    await waitUntil('all sessions finished', async () => (await instance.supervisor.count()) === 0 && (await instance.registry.liveIds()).length === 0, { timeoutMs: 30_000 });
    const queue = new Queue(instance.keys.controlQueue(instance.id), { connection: conn, prefix: instance.keys.bullPrefix });
    try {
      expect((await instance.registry.listRecent(1000)).length).toBeGreaterThanOrEqual(500);
      // Removal is asynchronous (after the record is final); give it a moment, then nothing may stay.
      await waitUntil('no idle jobs left', async () => (await queue.getJobCounts('delayed', 'waiting')).delayed === 0, { timeoutMs: 15_000 }).catch(() => {});
      const left = await queue.getJobs(['delayed', 'waiting']);
      expect(left.map((j) => j.id)).toEqual([]);
    } finally {
      await queue.close();
    }
  }, 360_000);
});

describe('keepalive timeout', () => {
  it('a client that stops answering keepalives ends as client_timeout', async () => {
    const child = spawn('ssh', [...BASE_OPTIONS, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(warden.port), '-l', 'alice@target@web1', '127.0.0.1', 'echo up; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    trackChild(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await waitUntil('session up', async () => out.includes('up'));
      const [id] = await warden.instance.registry.liveIds(warden.instance.id);
      child.kill('SIGSTOP'); // alive but silent, like a laptop whose lid closed
      await waitUntil('session ended', async () => (await warden.instance.registry.get(id!))?.state === 'finished', { timeoutMs: 20_000 });
      expect(await warden.instance.registry.get(id!)).toMatchObject({ reason: 'client_timeout' });
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);
});

describe('BullMQ keys', () => {
  it('live inside the {prefix} hash tag, and jobs from the legacy prefix were moved, not lost', async () => {
    const keys = new RedisKeys(prefix);
    expect(keys.bullPrefix).toBe(`{${prefix}}:bull`);
    expect((await conn.keys(`{${prefix}}:bull:*`)).length).toBeGreaterThan(0);
    await waitUntil('the legacy command log entry was stored', async () => JSON.stringify(await conn.xrange(keys.commands, '-', '+')).includes(legacyCommand), { timeoutMs: 15_000 });
    expect(await conn.keys(`${prefix}:bull:*`)).toEqual([]);
  });
});
