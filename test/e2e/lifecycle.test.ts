/**
 * Session lifecycle guarantees: nothing leaks, hostile or slow clients are cut off, and a
 * shutdown tells users and finalises every record.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/registry.js';
import { wrongPasswords } from '../helpers/bad-logins.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
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
    await waitUntil('all sessions finished', async () => (await warden.instance.supervisor.count()) === 0 && (await registry.liveIds()).length === 0, { timeoutMs: 60_000 });
    expect(await registry.liveIds(warden.instance.id)).toEqual([]);
    const finished = await registry.listRecent(1000);
    expect(finished.filter((r) => r.kind === 'exec').length).toBeGreaterThanOrEqual(300);
    expect(finished.every((r) => r.state === 'finished' && r.reason)).toBe(true);

    await sockets.closed();
    const grown = heapAfterGc() - baseline;
    // A leak of one session's objects (relay, actor, ssh2 connection) is tens of KiB; 200 of
    // them would be several MiB.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
  }, 900_000); // 220+ sessions: minutes when the machine is shared
});

describe('hostile clients', () => {
  it('disconnects after 6 failed authentication attempts on one connection, without a 7th prompt', async () => {
    const since = Date.now();
    const { attempts, outcome } = await wrongPasswords(warden.port, 'alice@web1');
    expect(outcome).not.toBe('ready');
    // OpenSSH's MaxAuthTries 6: the 6th failure is answered with a disconnect, so the client
    // is asked for a password exactly 6 times.
    expect(attempts).toBe(6);
    let rec: SessionRecord | undefined;
    await waitUntil('auth_failed recorded', async () => {
      rec = (await warden.instance.registry.listRecent(50)).find((r) => r.reason === 'auth_failed' && r.start >= since - 1_000);
      return rec !== undefined;
    });
    const failures = warden.logs().filter((l) => l.event === 'auth_failure' && l.session === rec!.id);
    expect(failures).toHaveLength(6);
  });

  it('refuses a source address fleet-wide after repeated failures, even with the right password', async () => {
    // Two instances sharing one Redis and one prefix: failures on one count on the other.
    const strictAuth = '{ maxTries: 6, loginGraceTime: 60s, penaltyThreshold: 3, penaltyWindow: 1m }';
    const prefix = uniquePrefix();
    const [first, second] = await Promise.all([
      startWarden({ redisUrl: redis.url, sshd, prefix, auth: strictAuth }),
      startWarden({ redisUrl: redis.url, sshd, prefix, auth: strictAuth }),
    ]);
    try {
      const before = await runSsh({ port: second.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'echo in' });
      expect(before.stdout.toString()).toBe('in\n');
      for (let i = 0; i < 3; i++) {
        const bad = await runSsh({ port: first.port, login: 'alice@web1', password: 'wrong', command: 'true' });
        expect(bad.code).toBe(255);
      }
      // The failures reach Redis asynchronously (never on the login path): poll, do not sleep.
      let good = await runSsh({ port: second.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'echo in' });
      await waitUntil('second instance refuses the source', async () => {
        if (good.code === 255) return true;
        good = await runSsh({ port: second.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'echo in' });
        return good.code === 255;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      expect(good.stdout.toString()).toBe('');
      expect(second.logs().some((l) => l.msg === 'source refused: too many failed logins')).toBe(true);
      // An instance of another fleet (another prefix on the same Redis) shares nothing: it still lets alice in.
      const other = await runSsh({ port: warden.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'echo in' });
      expect(other.stdout.toString()).toBe('in\n');
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  describe('login grace time', () => {
    // Its own instance with a 2 s grace: the file's instance has a generous one, so logins on a
    // loaded machine (scrypt, many test files at once) are not cut off by it.
    let graceful: WardenHandle;
    beforeAll(async () => {
      graceful = await startWarden({ redisUrl: redis.url, sshd, auth: '{ maxTries: 6, loginGraceTime: 2s }' });
    });
    afterAll(async () => {
      await graceful?.stop();
    });

    it('closes a connection that never authenticates after the login grace time', async () => {
      const started = Date.now();
      const sock = net.connect(graceful.port, '127.0.0.1');
      let banner = '';
      sock.on('data', (d) => (banner += d.toString('latin1')));
      sock.write('SSH-2.0-slowpoke\r\n');
      await new Promise<void>((resolve) => sock.on('close', () => resolve()));
      const took = Date.now() - started;
      expect(banner).toMatch(/^SSH-2\.0-Warden/);
      // Not before the 2 s grace time (a lower bound cannot flake on a slow machine); how late
      // is the benchmark's business, and the test's own timeout bounds "never".
      expect(took).toBeGreaterThanOrEqual(1_900);
      await waitUntil('auth_timeout recorded', async () => (await graceful.instance.registry.listRecent(50)).some((r) => r.reason === 'auth_timeout'));
    });

    it('closes a connection that never even sends its SSH version line', async () => {
      const started = Date.now();
      const sock = net.connect(graceful.port, '127.0.0.1');
      sock.on('data', () => {});
      await new Promise<void>((resolve) => sock.on('close', () => resolve()));
      // Closed by the login grace time, not at once (the test's timeout bounds "never").
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    });
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
