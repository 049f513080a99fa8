/**
 * Redis failures as outages, against a real redis-server: frozen (SIGSTOP), restarted without
 * its data, and cut off from this instance (a TCP proxy in between, as a network partition)
 * while other clients still reach it. Warden runs in this process so its log can be read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryCommands } from '../../src/audit/audit-queues.js';
import { Registry, type SessionRecord } from '../../src/registry.js';
import { trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startTerminal } from '../helpers/tmux.js';
import { aliceSsh, startWarden, type WardenHandle } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let proxy: TcpProxy;
let warden: WardenHandle;
let conn: Redis;
let registry: Registry;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  proxy = await startTcpProxy(redis.port);
  // A rule on the grant: the in-step command reader (the rule-less one is issue 7's business).
  warden = await startWarden({ redisUrl: proxy.url, sshd, grantExtra: "commands: [{ warn: '^sudo\\b' }]", extraYaml: 'instance: { heartbeatInterval: 500ms, lease: 2s, reaperInterval: 500ms }' });
  // The test's own view of Redis goes around the proxy: it plays the rest of the fleet.
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
  registry = new Registry(conn, warden.instance.keys, { retentionMs: 86_400_000, historyMax: 1000 });
}, 60_000);

afterAll(async () => {
  conn?.disconnect();
  await warden?.stop();
  await proxy?.close();
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

interface Stream {
  child: ChildProcess;
  ticks(): number;
  err(): string;
}

/** An exec session printing a numbered tick every 100 ms. */
function openStream(marker: string): Stream {
  const cmd = `i=0; while :; do i=$((i+1)); echo ${marker}-$i; sleep 0.1; done`;
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(warden.port), '-l', 'alice@target@web1', '127.0.0.1', cmd]);
  trackChild(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-4096)));
  child.stderr!.on('data', (d) => (err += d));
  return {
    child,
    ticks: () => Number([...out.matchAll(new RegExp(`${marker}-(\\d+)`, 'g'))].pop()?.[1] ?? 0),
    err: () => err,
  };
}

async function liveRecord(marker: string): Promise<SessionRecord> {
  let rec: SessionRecord | undefined;
  await waitUntil(`record of ${marker}`, async () => {
    rec = (await registry.listLive()).find((r) => r.command?.includes(marker));
    return rec !== undefined;
  });
  return rec!;
}

const logged = (msg: RegExp) => warden.logs().filter((l) => msg.test(String(l.msg)));

/** After an outage: wait until the probe lets logins in again. */
async function loginsWork(): Promise<void> {
  await waitUntil('logins accepted', async () => (await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'true' })).code === 0, { timeoutMs: 20_000, intervalMs: 300 });
}

describe('a frozen Redis (SIGSTOP)', () => {
  it('keeps a live session streaming, refuses new logins with the message, and lets them in after SIGCONT', async () => {
    const down = /^redis unavailable: new logins refused/;
    const up = /^redis available again/;
    const [downBefore, upBefore] = [logged(down).length, logged(up).length];
    const live = openStream('frz');
    await waitUntil('streaming', async () => live.ticks() >= 3);
    const frozenAt = Date.now();
    redis.signal('SIGSTOP');
    try {
      // ioredis still says `ready` (the socket is open): only the probe can tell.
      await waitUntil('the probe notices', async () => logged(down).length > downBefore, { timeoutMs: 10_000 });
      const detectedMs = Number(logged(down).at(-1)!.time) - frozenAt;
      const refused = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo let-in', timeoutMs: 15_000 });
      expect(refused.stdout.toString(), `detected after ${detectedMs} ms`).not.toContain('let-in');
      expect(refused.stderr).toContain('temporarily unavailable');
      const n = live.ticks();
      await waitUntil('still streaming while Redis is frozen', async () => live.ticks() >= n + 10, { timeoutMs: 10_000 });
    } finally {
      redis.signal('SIGCONT');
    }
    await loginsWork();
    expect(live.child.exitCode).toBeNull();
    // Once when it went, once when it came back.
    expect(logged(down).length - downBefore).toBe(1);
    expect(logged(up).length - upBefore).toBe(1);
    live.child.kill();
  }, 60_000);
});

describe('re-assertion after Redis lost or cut off', () => {
  it('recreates the live record of a session after Redis restarts without its data', async () => {
    const live = openStream('lost');
    const rec = await liveRecord('lost');
    await conn.set('wt-data-marker', '1');
    await redis.kill9();
    rmSync(path.join(redis.dir, 'appendonlydir'), { recursive: true, force: true });
    await redis.restart();
    expect(await conn.exists('wt-data-marker'), 'Redis came back empty').toBe(0);
    await waitUntil('record recreated', async () => (await registry.get(rec.id))?.state === 'proxying', { timeoutMs: 15_000 });
    expect(await registry.liveIds(warden.instance.id)).toContain(rec.id);
    const n = live.ticks();
    await waitUntil('stream went on', async () => live.ticks() > n + 3);
    live.child.kill();
    await waitUntil('final after the client left', async () => (await registry.get(rec.id))?.state === 'finished');
    expect(await registry.get(rec.id)).toMatchObject({ reason: 'client_closed' });
  }, 60_000);

  it('ends a live session whose record was finalised while this instance was cut off', async () => {
    await loginsWork();
    const live = openStream('reaped');
    const rec = await liveRecord('reaped');
    proxy.cut();
    try {
      // The rest of the fleet sees the lease expire and reaps (the reaper's own script).
      await waitUntil('lease expired', async () => (await conn.exists(warden.instance.keys.lease(warden.instance.id))) === 0, { timeoutMs: 15_000 });
      expect(await registry.reapInstance(warden.instance.id)).toContain(rec.id);
    } finally {
      proxy.heal();
    }
    await waitUntil('the user is told', async () => live.err().includes('The Warden instance serving this session was lost'), { timeoutMs: 20_000 });
    await waitUntil('client gone', async () => live.child.exitCode !== null);
    expect(await registry.get(rec.id)).toMatchObject({ state: 'finished', reason: 'instance_lost' });
    expect(await registry.liveIds()).not.toContain(rec.id);
  }, 60_000);

  it('an outage longer than the retry window keeps the real finish time and every command-log entry', async () => {
    await loginsWork();
    const term = await startTerminal({ command: aliceSsh(warden, 'alice@target@web1'), cols: 100, rows: 30 });
    try {
      await term.waitFor(/@[\w.-]+:~\$\s*$/m);
      await term.send("PS1='$ '; HISTFILE=/dev/null");
      await term.sendKey('Enter');
      await term.waitFor(/^\$\s*$/m);
      let id = '';
      await waitUntil('live shell', async () => {
        id = (await registry.listLive(warden.instance.id)).find((r) => r.kind === 'shell')?.id ?? '';
        return id !== '';
      });
      const commands = async () => (await queryCommands(conn, warden.instance.keys, { session: id, limit: 50 })).map((e) => e.command);
      // A line is logged once the next one starts (or the channel ends).
      for (const [line, out] of [['echo before-$((3*3))', /^before-9$/m], ['echo next-$((4*4))', /^next-16$/m]] as const) {
        await term.send(line);
        await term.sendKey('Enter');
        await term.waitFor(out);
      }
      await waitUntil('logged before the outage', async () => (await commands()).includes('echo before-$((3*3))'));

      const gaveUp = /^registry finish failed; will retry/;
      const cutAt = Date.now();
      proxy.cut();
      let endedBy: number;
      let healedAt: number;
      try {
        await term.send('echo during-$((6*7))');
        await term.sendKey('Enter');
        await term.waitFor(/during-42/);
        await term.send('exit');
        await term.sendKey('Enter');
        await term.exited(15_000);
        endedBy = Date.now();
        // Past ioredis' retries: the final record's write has failed for good by now.
        await waitUntil('ioredis gives the final record up', async () => logged(gaveUp).some((l) => l.session === id), { timeoutMs: 90_000, intervalMs: 500 });
      } finally {
        healedAt = Date.now();
        proxy.heal();
      }
      await waitUntil('final record written after the outage', async () => (await registry.get(id))?.state === 'finished', { timeoutMs: 20_000 });
      const rec = (await registry.get(id))!;
      expect(rec.reason).toBe('client_closed');
      expect(rec.finish).toBeGreaterThanOrEqual(cutAt);
      // The client's exit is seen by polling tmux, so Warden's own end can trail it by a few
      // ms; the bug this guards stamps the reconnect time, many seconds after the end.
      expect(rec.finish, 'finish is when the session ended, not when Redis came back').toBeLessThanOrEqual(endedBy + 5_000);
      expect(rec.finish).toBeLessThan(healedAt);
      await waitUntil('the command typed during the outage is logged', async () => (await commands()).includes('echo during-$((6*7))'), {
        timeoutMs: 20_000,
        details: () => JSON.stringify(warden.logs().filter((l) => /journal|command/.test(String(l.msg))).slice(-5)),
      });
    } finally {
      await term.kill();
    }
  }, 150_000);
});
