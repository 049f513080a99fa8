/**
 * Session control across instances: two Warden processes share one real Redis; kills,
 * idle timeouts, the reaper and a Redis restart, driven with the real ssh client and CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry, type SessionRecord } from '../../src/registry.js';
import { Redis } from 'ioredis';
import { freePort, trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTerminal } from '../helpers/tmux.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';
import { aliceSsh } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let a: WardenProcess;
let b: WardenProcess;
let registry: Registry;
let conn: Redis;

const timing = `instance: { heartbeatInterval: 500ms, lease: 2s, reaperInterval: 500ms }`;
const idleGrant = `  - { users: [alice], assets: [idle1], accounts: [target], session: { idleTimeout: 3s, idleWarning: 1s } }`;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  const prefix = uniquePrefix();
  const common = { redisUrl: redis.url, sshd, prefix, extraYaml: timing, extraGrants: idleGrant };
  [a, b] = await Promise.all([
    spawnWarden({ ...common, port: await freePort(), instanceId: 'inst-a' }),
    spawnWarden({ ...common, port: await freePort(), instanceId: 'inst-b' }),
  ]);
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
  registry = new Registry(conn, new RedisKeys(prefix), { retentionMs: 86_400_000, historyMax: 1000 });
}, 60_000);

afterAll(async () => {
  conn?.disconnect();
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

interface Live {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** A long-running exec session through an instance (no pty: messages arrive on stderr). */
function openSession(w: WardenProcess, marker: string): Live {
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', `echo ${marker}; exec sleep 120`]);
  trackChild(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

async function liveRecord(marker: string, live: Live): Promise<SessionRecord> {
  await waitUntil(`session ${marker} up`, async () => live.out().includes(marker));
  let rec: SessionRecord | undefined;
  await waitUntil(`record of ${marker}`, async () => {
    rec = (await registry.listLive()).find((r) => r.command?.includes(marker));
    return rec !== undefined;
  });
  return rec!;
}

describe('kill', () => {
  it('kills a session owned by instance A with the CLI run against B\'s config, and the user sees who and why', async () => {
    const live = openSession(a, 'victim-1');
    const rec = await liveRecord('victim-1', live);
    expect(rec.instance).toBe('inst-a');

    const res = await runCli(['kill', rec.id.slice(0, 12), '--by', 'carol', '--reason', 'maintenance', '--config', b.configFile]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(new RegExp(`Killed session ${rec.id} on inst-a .*acknowledged in [\\d.]+ ms`));
    expect(res.code).toBe(0);
    expect(await live.exited).toBe(255);
    expect(live.err()).toContain('Terminated by admin carol: maintenance');
    expect(await registry.get(rec.id)).toMatchObject({ state: 'finished', reason: 'admin_kill', by: 'carol', detail: 'maintenance' });
  });

  it('a duplicate kill is harmless, a finished session and an unknown id get clear messages', async () => {
    const live = openSession(b, 'victim-2');
    const rec = await liveRecord('victim-2', live);
    const [k1, k2] = await Promise.all([
      runCli(['kill', rec.id, '--by', 'dave', '--config', a.configFile]),
      runCli(['kill', rec.id, '--by', 'dave', '--config', a.configFile]),
    ]);
    expect([k1.code, k2.code]).toEqual([0, 0]);
    for (const k of [k1, k2]) expect(k.stdout).toMatch(/Killed session|had already finished \(admin_kill\)/);
    expect(await live.exited).toBe(255);

    const again = await runCli(['kill', rec.id, '--config', a.configFile]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('had already finished (admin_kill)');

    const unknown = await runCli(['kill', '01ZZZZZZZZ', '--config', a.configFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No session matches that id: "01ZZZZZZZZ"');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('kill by user', () => {
  it('kills every live session of a user across instances', async () => {
    const onA = openSession(a, 'user-a');
    const onB = openSession(b, 'user-b');
    await liveRecord('user-a', onA);
    await liveRecord('user-b', onB);
    const res = await runCli(['kill', '--user', 'alice', '--by', 'frank', '--config', a.configFile]);
    expect(res.code).toBe(0);
    expect(res.stdout.match(/Killed session/g)).toHaveLength(2);
    expect(await onA.exited).toBe(255);
    expect(await onB.exited).toBe(255);
    expect(onB.err()).toContain('Terminated by admin frank');
    const none = await runCli(['kill', '--user', 'alice', '--config', a.configFile]);
    expect(none.stdout).toContain('No live sessions of user alice.');
  });
});

describe('idle timeout', () => {
  it('warns, a key press resets the clock, then disconnects with the message', async () => {
    const term = await startTerminal({
      command: aliceSsh(a, 'alice@target@idle1'),
      cols: 100,
      rows: 30,
    });
    try {
      const started = Date.now();
      await term.waitFor(/Idle for \d+s: this session closes in \ds\. Press any key to stay\./, 8_000);
      const warnedAfter = Date.now() - started;
      expect(warnedAfter).toBeGreaterThanOrEqual(1_500);
      await term.send('x');
      await term.sendKey('BSpace');
      const keyAt = Date.now();
      // The key reset the clock: 2.5 s later (past the original 3 s deadline) it is still open.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(await term.isDead()).toBe(false);
      await term.waitFor(/Disconnected after 3s idle/, 8_000);
      expect(Date.now() - keyAt).toBeGreaterThanOrEqual(2_900);
      expect(await term.exited()).toBe(255);
    } finally {
      await term.kill();
    }
    await waitUntil('idle_timeout recorded', async () => (await registry.listRecent(50)).some((r) => r.reason === 'idle_timeout' && r.asset === 'idle1'));
  }, 40_000);

  it('a non-interactive command that keeps sending output (like a transfer) is activity, not idle', async () => {
    const res = await runSsh({ port: a.port, login: 'alice@target@idle1', identity: a.aliceKey, command: 'for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.9; done' });
    expect(res.code).toBe(0);
    expect(res.stdout.toString()).toContain('tick 6');
  }, 30_000);
});

describe('instance loss and Redis outage', () => {
  it('kill -9 of instance A: B reaps A\'s sessions as instance_lost in time and leaves its own alone', async () => {
    const onA = openSession(a, 'on-a');
    const onB = openSession(b, 'on-b');
    const recA = await liveRecord('on-a', onA);
    const recB = await liveRecord('on-b', onB);
    const killedAt = Date.now();
    await a.kill9();
    await waitUntil('A reaped', async () => (await registry.get(recA.id))?.state === 'finished', { timeoutMs: 10_000 });
    const took = Date.now() - killedAt;
    expect(took).toBeLessThanOrEqual(2_000 + 500 + 2_000); // lease + reaper period + slack for a loaded CI machine
    expect(await registry.get(recA.id)).toMatchObject({ reason: 'instance_lost' });
    expect(await registry.get(recB.id)).toMatchObject({ state: 'proxying', instance: 'inst-b' });
    expect(onB.child.exitCode).toBeNull();
    onB.child.kill();
    onA.child.kill();
  }, 30_000);

  it('restarting Redis keeps live sessions flowing, and a kill right after the restart works', async () => {
    const term = await startTerminal({
      command: aliceSsh(b, 'alice@target@web1'),
      cols: 100,
      rows: 30,
    });
    try {
      await term.send('echo before-$((1+1))');
      await term.sendKey('Enter');
      await term.waitFor(/before-2/);
      let id = '';
      await waitUntil('record', async () => {
        id = (await registry.listLive('inst-b')).find((r) => r.kind === 'shell')?.id ?? '';
        return id !== '';
      });
      await redis.restart();
      await term.send('echo during-$((2+2))');
      await term.sendKey('Enter');
      await term.waitFor(/during-4/);
      await waitUntil('redis back', async () => (await conn.ping().catch(() => '')) === 'PONG');
      const res = await runCli(['kill', id, '--by', 'erin', '--reason', 'after restart', '--config', b.configFile]);
      expect(res.stdout).toContain('Killed session');
      await term.waitFor(/Terminated by admin erin: after restart/);
      expect(await registry.get(id)).toMatchObject({ state: 'finished', reason: 'admin_kill' });
    } finally {
      await term.kill();
    }
  }, 40_000);

  it('refuses new logins clearly while Redis is down, and lets them in again after', async () => {
    await redis.kill9();
    try {
      const res = await runSsh({ port: b.port, login: 'alice@target@web1', identity: b.aliceKey, command: 'true', timeoutMs: 15_000 });
      expect(res.code).toBe(255);
      expect(res.stderr).toContain('temporarily unavailable');
    } finally {
      await redis.restart();
    }
    await waitUntil('redis back', async () => (await conn.ping().catch(() => '')) === 'PONG');
    await waitUntil('logins accepted again', async () => (await runSsh({ port: b.port, login: 'alice@target@web1', identity: b.aliceKey, command: 'true' })).code === 0, { timeoutMs: 10_000, intervalMs: 300 });
    await waitUntil('refusal recorded once redis was back', async () => (await registry.listRecent(100)).some((r) => r.reason === 'unavailable'), { timeoutMs: 10_000 });
  }, 60_000);

  it('lists both instances with their heartbeat and counters', async () => {
    const res = await runCli(['terminals', '--json', '--config', b.configFile]);
    const out = JSON.parse(res.stdout) as { instances: Array<{ id: string; alive: boolean }>; counters: Record<string, number> };
    expect(out.instances.map((i) => i.id)).toContain('inst-b');
    expect(out.counters.kills).toBeGreaterThanOrEqual(3);
    expect(out.counters.idle_warnings).toBeGreaterThanOrEqual(1);
    expect(out.counters.idle_timeouts).toBeGreaterThanOrEqual(1);
    expect(out.counters.reaped).toBeGreaterThanOrEqual(1);
  });
});

