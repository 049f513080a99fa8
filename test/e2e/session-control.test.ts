/**
 * Session control across instances: two Warden processes share one real Redis; kills,
 * idle timeouts, the reaper and a Redis restart, driven with the real ssh client and CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry, type SessionRecord } from '../../src/registry.js';
import { Redis } from 'ioredis';
import { liveRecord as liveRecordIn, openSession, type LiveSession } from '../helpers/live-session.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
import { runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTerminal } from '../helpers/tmux.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';
import { aliceSsh, type WardenOptions } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let a: WardenProcess;
let b: WardenProcess;
let registry: Registry;
let conn: Redis;
/** Settings every instance of this file shares (one fleet: same Redis, same prefix). */
let common: WardenOptions & { prefix: string };

// A lease long enough that a Redis restart on a loaded machine does not outlast it (then the
// other instance would rightly reap a live instance's sessions); the reaper test waits for it.
const timing = `instance: { heartbeatInterval: 1s, lease: 10s, reaperInterval: 1s }`;
const idleGrant = `  - { users: [alice], assets: [idle1], accounts: [target], session: { idleTimeout: 3s, idleWarning: 1s } }`;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  common = { redisUrl: redis.url, sshd, prefix: uniquePrefix(), extraYaml: timing, extraGrants: idleGrant };
  [a, b] = await Promise.all([
    spawnWarden({ ...common, instanceId: 'inst-a' }),
    spawnWarden({ ...common, instanceId: 'inst-b' }),
  ]);
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
  registry = new Registry(conn, new RedisKeys(common.prefix), { retentionMs: 86_400_000, historyMax: 1000 });
});

afterAll(async () => {
  conn?.disconnect();
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

const liveRecord = (marker: string, live: LiveSession): Promise<SessionRecord> => liveRecordIn(registry, marker, live);

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
    const since = Date.now();
    const term = await startTerminal({
      command: aliceSsh(a, 'alice@target@idle1'),
      cols: 100,
      rows: 30,
    });
    let warnedAt = 0;
    try {
      await term.waitFor(/Idle for \d+s: this session closes in \ds\. Press any key to stay\./, 30_000);
      warnedAt = Date.now();
      // Not before idleTimeout - idleWarning (2 s); a lower bound cannot flake under load.
      expect(warnedAt - since).toBeGreaterThanOrEqual(1_900);
      await term.send('x');
      await term.sendKey('BSpace');
      // The key ended the warned state (idle → proxying), so the next idle stretch is warned again
      // before the cut; a session left in 'idle' would go straight to the disconnect.
      await term.waitFor(/closes in \ds\. Press any key[\s\S]*closes in \ds\. Press any key[\s\S]*Disconnected after 3s idle/, 30_000);
      expect(await term.exited()).toBe(255);
    } finally {
      await term.kill();
    }
    let rec: SessionRecord | undefined;
    await waitUntil('idle_timeout recorded', async () => {
      rec = (await registry.listRecent(50)).find((r) => r.reason === 'idle_timeout' && r.asset === 'idle1' && r.start >= since - 1_000);
      return rec !== undefined;
    });
    // Warden's own clock, not the test's: the key press (the last activity) was seen after the
    // warning was on screen, and the session ended a whole idle timeout after it, so the key
    // moved the deadline instead of the warning's countdown ending it.
    expect(rec!.lastActivity).toBeGreaterThanOrEqual(warnedAt);
    expect(rec!.finish! - rec!.lastActivity).toBeGreaterThanOrEqual(2_950);
  }, 90_000);

  it('a non-interactive command that keeps sending output (like a transfer) is activity, not idle', async () => {
    const res = await runSsh({ port: a.port, login: 'alice@target@idle1', identity: a.aliceKey, command: 'for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.9; done' });
    expect(res.code).toBe(0);
    expect(res.stdout.toString()).toContain('tick 6');
  });
});

describe('instance loss and Redis outage', () => {
  it('kill -9 of an instance: B reaps its sessions as instance_lost and leaves its own alone', async () => {
    // A victim of its own, so the tests that use A do not depend on running before this one.
    const c = await spawnWarden({ ...common, instanceId: 'inst-c' });
    const onC = openSession(c, 'on-c');
    const onB = openSession(b, 'on-b');
    const recC = await liveRecord('on-c', onC);
    const recB = await liveRecord('on-b', onB);
    await c.kill9();
    // How soon is the benchmark's business; here: it happens, with the right reason.
    await waitUntil('C reaped', async () => (await registry.get(recC.id))?.state === 'finished', { timeoutMs: 90_000 });
    expect(await registry.get(recC.id)).toMatchObject({ reason: 'instance_lost' });
    expect(await registry.get(recB.id)).toMatchObject({ state: 'proxying', instance: 'inst-b' });
    expect(onB.child.exitCode).toBeNull();
    onB.child.kill();
    onC.child.kill();
  });

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
  });

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
    await waitUntil('logins accepted again', async () => (await runSsh({ port: b.port, login: 'alice@target@web1', identity: b.aliceKey, command: 'true' })).code === 0, { timeoutMs: 30_000, intervalMs: 300 });
    await waitUntil('refusal recorded once redis was back', async () => (await registry.listRecent(100)).some((r) => r.reason === 'unavailable'), { timeoutMs: 30_000 });
  });

  it('lists both instances with their heartbeat and what each counted, and counts a kill', async () => {
    type Listed = { id: string; alive: boolean; heartbeat: number; counts: Record<string, number> & { endedBy: Record<string, number> } };
    const terminals = async () => {
      const res = await runCli(['terminals', '--json', '--config', b.configFile]);
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as { instances: Listed[]; counters: Record<string, number> };
    };
    const of = (list: { instances: Listed[] }, id: string) => list.instances.find((i) => i.id === id)!;
    // Counts travel with heartbeats: take "before" from one written after the earlier tests.
    const since = Date.now();
    let before = await terminals();
    await waitUntil('a heartbeat of both after the earlier tests', async () => {
      before = await terminals();
      return ['inst-a', 'inst-b'].every((id) => of(before, id).heartbeat > since);
    }, { timeoutMs: 10_000, intervalMs: 300 });
    const live = openSession(b, 'counted');
    const rec = await liveRecord('counted', live);
    expect((await runCli(['kill', rec.id, '--by', 'gina', '--config', a.configFile])).code).toBe(0);
    expect(await live.exited).toBe(255);
    let after = await terminals();
    for (const id of ['inst-a', 'inst-b']) expect(of(after, id)).toMatchObject({ alive: true, heartbeat: expect.any(Number) });
    expect(after.counters.kills).toBe((before.counters.kills ?? 0) + 1);
    expect(Object.keys(after.counters).sort()).toEqual(['idle_timeouts', 'idle_warnings', 'kills', 'max_duration', 'reaped']);
    // B counted the login and the kill of its session (written with its next heartbeat); A,
    // which only sent the kill, counted neither.
    const inB = of(before, 'inst-b').counts;
    await waitUntil("B's next heartbeat carries the kill", async () => {
      after = await terminals();
      return (of(after, 'inst-b').counts.endedBy.admin_kill ?? 0) === (inB.endedBy.admin_kill ?? 0) + 1;
    }, { timeoutMs: 10_000, intervalMs: 300 });
    expect(of(after, 'inst-b').counts.logins).toBe(inB.logins! + 1);
    expect(of(after, 'inst-b').counts.ended).toBe(inB.ended! + 1);
    expect(of(after, 'inst-a').counts.endedBy.admin_kill ?? 0).toBe(of(before, 'inst-a').counts.endedBy.admin_kill ?? 0);
    const table = await runCli(['terminals', '--config', b.configFile]);
    expect(table.stdout).toMatch(/LOGINS\s+AUTH FAILED\s+ENDED/);
  });
});
