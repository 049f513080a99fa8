/**
 * Session lifecycle guarantees: nothing leaks, hostile or slow clients are cut off, and a
 * shutdown tells users and finalises every record.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/ssh2.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { ALICE_PASSWORD, startWarden, type WardenHandle } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd({ config: { MaxStartups: '300:30:400', MaxSessions: 300 } })]);
  warden = await startWarden({ redisUrl: redis.url, sshd });
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Warden closes a finished client connection after a grace period (session-farewell.ts):
 *  until then its socket and buffers are still referenced, which is not a leak. */
const sockets = { closed: () => new Promise((r) => setTimeout(r, 2_500)) };

async function sessions(count: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'true' });
      if (res.code !== 0) {
        await new Promise((r) => setTimeout(r, 500));
        const ends = (await warden.instance.registry.listRecent(300)).filter((r) => r.exitStatus !== '0');
        throw new Error(`session failed: ${res.code} ${res.stderr} ${JSON.stringify(ends.slice(-3))}\n${sshd.log().split("\n").filter((l) => /error|fatal|refused|drop|Disconnect/i.test(l)).slice(-10).join("\n")}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('no leaks', () => {
  it('200 sessions leave an empty live registry, no supervised actors and the heap near its baseline', async () => {
    const { registry } = warden.instance;
    // Warm up code paths, JIT and caches: the first ~100 sessions grow the heap by ~1 MiB once
    // (measured), the next hundreds by well under 1 KiB each.
    await sessions(100, 4);
    await waitUntil('warm-up sessions finished', async () => (await warden.instance.supervisor.count()) === 0 && (await registry.liveIds()).length === 0);
    await sockets.closed();
    const baseline = heapAfterGc();

    await sessions(200, 4);
    await waitUntil('all sessions finished', async () => (await warden.instance.supervisor.count()) === 0 && (await registry.liveIds()).length === 0, { timeoutMs: 15_000 });
    expect(await registry.liveIds(warden.instance.id)).toEqual([]);
    const finished = await registry.listRecent(1000);
    expect(finished.filter((r) => r.kind === 'exec').length).toBeGreaterThanOrEqual(300);
    expect(finished.every((r) => r.state === 'finished' && r.reason)).toBe(true);

    await sockets.closed();
    const grown = heapAfterGc() - baseline;
    // A leak of one session's objects (relay, actor, ssh2 connection) is tens of KiB; 200 of
    // them would be several MiB.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
  }, 180_000);
});

describe('hostile clients', () => {
  it('disconnects after 6 failed authentication attempts on one connection', async () => {
    let attempts = 0;
    const closed = await new Promise<string>((resolve) => {
      const c = new Client();
      c.on('error', (err) => resolve(`error: ${err.message}`));
      c.on('close', () => resolve('closed'));
      c.on('ready', () => resolve('ready?!'));
      c.connect({
        host: '127.0.0.1',
        port: warden.port,
        username: 'alice@web1',
        authHandler: (_methods, _partial, next) => {
          attempts++;
          if (attempts > 20) return next(false as never);
          next({ type: 'password', username: 'alice@web1', password: `wrong-${attempts}` });
        },
      });
    });
    expect(closed).not.toBe('ready?!');
    // The client may send a 7th attempt before it sees the disconnect; it is never answered.
    expect(attempts).toBeLessThanOrEqual(7);
    await waitUntil('auth_failed recorded', async () => (await warden.instance.registry.listRecent(50)).some((r) => r.reason === 'auth_failed'));
    const rec = (await warden.instance.registry.listRecent(50)).find((r) => r.reason === 'auth_failed')!;
    const failures = warden.logs().filter((l) => l.event === 'auth_failure' && l.session === rec.id);
    expect(failures).toHaveLength(6);
  });

  it('refuses a source address fleet-wide after repeated failures, even with the right password', async () => {
    const strict = await startWarden({ redisUrl: redis.url, sshd, auth: '{ maxTries: 6, loginGraceTime: 2s, penaltyThreshold: 3, penaltyWindow: 1m }' });
    try {
      for (let i = 0; i < 3; i++) {
        const bad = await runSsh({ port: strict.port, login: 'alice@web1', password: 'wrong', command: 'true' });
        expect(bad.code).toBe(255);
      }
      const good = await runSsh({ port: strict.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'echo in' });
      expect(good.code).toBe(255);
      expect(good.stdout.toString()).toBe('');
      expect(strict.logs().some((l) => l.msg === 'source refused: too many failed logins')).toBe(true);
      // The first instance shares nothing with this one's prefix: it still lets alice in.
      const other = await runSsh({ port: warden.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'echo in' });
      expect(other.stdout.toString()).toBe('in\n');
    } finally {
      await strict.stop();
    }
  });

  it('closes a connection that never authenticates after the login grace time', async () => {
    const started = Date.now();
    const sock = net.connect(warden.port, '127.0.0.1');
    let banner = '';
    sock.on('data', (d) => (banner += d.toString('latin1')));
    sock.write('SSH-2.0-slowpoke\r\n');
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    const took = Date.now() - started;
    expect(banner).toMatch(/^SSH-2\.0-Warden/);
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(6_000);
    await waitUntil('auth_timeout recorded', async () => (await warden.instance.registry.listRecent(50)).some((r) => r.reason === 'auth_timeout'));
  });

  it('closes a connection that never even sends its SSH version line', async () => {
    const started = Date.now();
    const sock = net.connect(warden.port, '127.0.0.1');
    sock.on('data', () => {});
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('survives garbage instead of an SSH handshake and keeps serving', async () => {
    const sock = net.connect(warden.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.on('data', () => {});
    sock.write('SSH-2.0-evil\r\n');
    sock.write(Buffer.alloc(70_000, 0xff));
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo still-here' });
    expect(res.stdout.toString()).toBe('still-here\n');
  });
});

describe('shutdown', () => {
  it('tells connected users, finalises their records as shutdown, and stops accepting', async () => {
    const other = await startWarden({ redisUrl: redis.url, sshd, prefix: warden.instance.keys.prefix });
    const child = spawn('ssh', [...BASE_OPTIONS, '-i', other.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(other.port), '-l', 'alice@target@web1', '127.0.0.1', 'echo started; sleep 60']);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitUntil('session running', async () => out.includes('started'));
    const id = (await other.instance.registry.liveIds(other.instance.id))[0]!;

    await other.stop();
    expect(await exited).toBe(255);
    expect(err).toContain('Warden is shutting down');
    const rec = await warden.instance.registry.get(id);
    expect(rec).toMatchObject({ state: 'finished', reason: 'shutdown' });
    const refused = await runSsh({ port: other.port, login: 'alice@target@web1', identity: other.aliceKey, command: 'true', timeoutMs: 5_000 });
    expect(refused.stderr).toMatch(/Connection refused/);
  });
});
