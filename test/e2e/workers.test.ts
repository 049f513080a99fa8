/**
 * `warden start --workers 2` as its own processes: a parent and two workers sharing the SSH
 * port. Sessions spread over both; a worker killed with kill -9 is restarted while the other
 * worker's sessions go on, and its own sessions are finalised as instance_lost; SIGTERM to the
 * parent ends every worker's sessions with reason `shutdown`; Ctrl-C with the embedded Redis
 * stops the one redis-server the parent started; a parent killed with kill -9 leaves no worker
 * (each stops as on SIGTERM).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../../src/instance-registry.js';
import type { SessionRecord } from '../../src/registry.js';
import { descendants, readText, trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';
import { adminUrlOf, tokenLines } from '../helpers/admin-fleet.js';

const TOKEN = 'workers-test-token-0123456789';

let sshd: SshdHandle;
let redis: RedisHandle;

beforeAll(async () => {
  [sshd, redis] = await Promise.all([startSshd(), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

interface Stream {
  /** "tick" lines seen so far. */
  ticks(): number;
  /** The ssh client has exited (its connection was cut). */
  ended(): boolean;
}

/** A streaming exec session through `w`; resolves once output flows. */
async function stream(w: WardenProcess): Promise<Stream> {
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', 'while :; do echo tick; sleep 0.2; done']);
  trackChild(child);
  let ticks = 0;
  child.stdout.on('data', (d: Buffer) => (ticks += d.toString().split('tick').length - 1));
  await waitUntil('session streaming', async () => ticks > 0 || child.exitCode !== null);
  if (ticks === 0) throw new Error(`ssh exited with ${child.exitCode} before any output`);
  return { ticks: () => ticks, ended: () => child.exitCode !== null };
}

async function cliJson<T>(w: WardenProcess, args: string[]): Promise<T> {
  const res = await runCli([...args, '--json', '--config', w.configFile]);
  if (res.code !== 0) throw new Error(`warden ${args[0]}: ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}

const sessions = (w: WardenProcess) => cliJson<{ live: SessionRecord[]; recent: SessionRecord[] }>(w, ['sessions', '--all', '--limit', '200']);
const terminals = async (w: WardenProcess) => (await cliJson<{ instances: InstanceInfo[] }>(w, ['terminals'])).instances;
const logLines = (w: WardenProcess) => w.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

async function allListening(w: WardenProcess): Promise<void> {
  await waitUntil('both workers listening', async () => logLines(w).some((l) => l.msg === 'all workers listening'), { timeoutMs: 60_000, details: () => w.log() });
  await waitUntil('both workers registered', async () => (await terminals(w)).filter((i) => i.alive).length === 2, { timeoutMs: 30_000 });
}

/** Live sessions per instance id. */
async function perInstance(w: WardenProcess): Promise<Map<string, SessionRecord[]>> {
  const by = new Map<string, SessionRecord[]>();
  for (const r of (await sessions(w)).live) by.set(r.instance, [...(by.get(r.instance) ?? []), r]);
  return by;
}

async function exitsWithin(w: WardenProcess, ms: number): Promise<number | null> {
  const code = await Promise.race([w.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), ms))]);
  if (code === 'late') {
    await w.kill9();
    throw new Error(`warden did not exit within ${ms} ms\n${w.log().split('\n').slice(-20).join('\n')}`);
  }
  return code;
}

/** A process that exists and is not a zombie. */
function running(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

describe('warden start --workers 2', () => {
  it('spreads sessions over both workers; a kill -9 worker is restarted, its sessions reaped, the other worker\'s go on; SIGTERM ends all with shutdown', async () => {
    const w = await spawnWarden({ sshd, redisUrl: redis.url, workers: 2 });
    try {
      await allListening(w);
      const streams: Stream[] = [];
      for (let i = 0; i < 4; i++) streams.push(await stream(w));
      const spread = await perInstance(w);
      const ids = [...spread.keys()].sort();
      expect(ids, 'sessions on both workers').toHaveLength(2);
      expect(ids.map((id) => id.replace(/^.*-(w\d+)$/, '$1'))).toEqual(['w1', 'w2']);

      // terminals: both workers, grouped by id, with their slot.
      const before = await terminals(w);
      expect(before.map((i) => i.worker).sort()).toEqual(['1/2', '2/2']);
      const res = await runCli(['terminals', '--config', w.configFile]);
      expect(res.stdout).toMatch(/WORKER/);
      expect(res.stdout).toMatch(/-w1 +1\/2/);

      // kill -9 worker 2.
      const victim = before.find((i) => i.worker === '2/2')!;
      const survivor = before.find((i) => i.worker === '1/2')!;
      const victimIds = spread.get(victim.id)!.map((r) => r.id);
      const survivorIds = spread.get(survivor.id)!.map((r) => r.id);
      process.kill(victim.pid, 'SIGKILL');

      await waitUntil('worker 2 restarted with a new pid', async () => {
        const now = (await terminals(w)).find((i) => i.id === victim.id);
        return now !== undefined && now.alive && now.pid !== victim.pid;
      }, { timeoutMs: 60_000, details: () => w.log().split('\n').slice(-20).join('\n') });
      const died = logLines(w).find((l) => String(l.msg).startsWith('worker died'));
      expect(died).toMatchObject({ worker: victim.id, pid: victim.pid, signal: 'SIGKILL' });

      await waitUntil('the dead worker\'s sessions final', async () => {
        const recent = (await sessions(w)).recent;
        return victimIds.every((id) => recent.some((r) => r.id === id));
      }, { timeoutMs: 30_000 });
      const { live, recent } = await sessions(w);
      for (const id of victimIds) expect(recent.find((r) => r.id === id)).toMatchObject({ state: 'finished', reason: 'instance_lost' });
      expect(live.map((r) => r.id).sort(), 'worker 1\'s sessions still live').toEqual([...survivorIds].sort());
      // The dead worker's clients were cut; worker 1's still stream.
      await waitUntil('the dead worker\'s clients cut', async () => streams.filter((s) => s.ended()).length === victimIds.length);
      const counts = streams.map((s) => s.ticks());
      await waitUntil('worker 1\'s sessions stream on', async () => streams.every((s, i) => s.ended() || s.ticks() >= counts[i]! + 5));
      expect(streams.filter((s) => !s.ended())).toHaveLength(survivorIds.length);

      // A session on each worker again, then SIGTERM to the parent.
      for (let i = 0; i < 8 && (await perInstance(w)).get(victim.id) === undefined; i++) streams.push(await stream(w));
      const atStop = (await sessions(w)).live;
      expect(new Set(atStop.map((r) => r.instance)), 'sessions on both workers at shutdown').toEqual(new Set([victim.id, survivor.id]));
      w.child.kill('SIGTERM');
      expect(await exitsWithin(w, 30_000)).toBe(0);
      const after = (await sessions(w)).recent;
      for (const r of atStop) expect(after.find((x) => x.id === r.id), r.id).toMatchObject({ state: 'finished', reason: 'shutdown' });
      expect(await terminals(w), 'both workers forgot themselves').toEqual([]);

      // Each worker wrote its own audit log; no file is shared.
      const data = readdirSync(path.join(path.dirname(w.configFile), 'data'));
      expect(data).toEqual(expect.arrayContaining(['audit-w1.jsonl', 'audit-w2.jsonl']));
      expect(data).not.toContain('audit.jsonl');
    } finally {
      if (w.child.exitCode === null) await w.kill9();
    }
  }, 180_000);

  it('with the embedded Redis: one redis-server, started and stopped by the parent; one admin API serving both workers\' recordings; Ctrl-C ends everything', async () => {
    const admin = `admin:\n  listen: 127.0.0.1:0\n  tokens:\n${tokenLines({ ops: [TOKEN, 'viewer'] })}\n`;
    const w = await spawnWarden({ sshd, workers: 2, detached: true, extraYaml: admin });
    try {
      await allListening(w);
      const starts = logLines(w).filter((l) => l.msg === 'embedded redis-server started');
      expect(starts, 'redis-server started once').toHaveLength(1);
      const redisPid = Number(starts[0]!.redisPid);
      const workers = (await terminals(w)).map((i) => i.pid);
      const streams = [await stream(w), await stream(w)];
      const live = (await sessions(w)).live;
      expect(new Set(live.map((r) => r.instance)).size).toBe(2);

      // Worker 1's admin API only; a session's recording on worker 2 comes through it.
      const api = await adminUrlOf(w);
      expect(logLines(w).filter((l) => l.msg === 'admin API listening')).toHaveLength(1);
      const onTwo = live.find((r) => r.instance.endsWith('-w2'))!;
      let got: Response | undefined;
      await waitUntil('worker 2\'s recording through the admin API', async () => {
        got = await fetch(`${api}/api/sessions/${onTwo.id}/recording`, { headers: { authorization: `Bearer ${TOKEN}` } });
        return got.status === 200;
      }, { timeoutMs: 30_000, details: () => `last status ${got?.status}` });
      expect((await got!.text()).split('\n')[0]).toMatch(/^\{"version":\s*2/);

      process.kill(-w.child.pid!, 'SIGINT'); // a terminal's Ctrl-C: parent and workers at once
      expect(await exitsWithin(w, 30_000)).toBe(0);
      await waitUntil('clients cut', async () => streams.every((s) => s.ended()));
      for (const pid of [redisPid, ...workers]) expect(running(pid), `pid ${pid} still running`).toBe(false);
      const stopped = logLines(w).filter((l) => l.msg === 'worker stopped');
      expect(stopped.map((l) => l.code)).toEqual([0, 0]);
    } finally {
      if (w.child.exitCode === null) process.kill(-w.child.pid!, 'SIGKILL');
    }
  }, 120_000);

  it('a parent killed with kill -9 leaves no worker behind: each stops as on SIGTERM', async () => {
    const w = await spawnWarden({ sshd, redisUrl: redis.url, workers: 2 });
    let workers: number[] = [];
    try {
      await allListening(w);
      workers = descendants(w.child.pid!);
      expect(workers).toHaveLength(2);
      const streams = [await stream(w), await stream(w)];
      const live = (await sessions(w)).live;
      expect(live).toHaveLength(2);
      await w.kill9();
      await waitUntil('workers gone', async () => workers.every((pid) => !running(pid)), { timeoutMs: 30_000 });
      await waitUntil('clients cut', async () => streams.every((s) => s.ended()));
      const recent = (await sessions(w)).recent;
      for (const r of live) expect(recent.find((x) => x.id === r.id), r.id).toMatchObject({ state: 'finished', reason: 'shutdown' });
    } finally {
      for (const pid of workers.filter(running)) process.kill(pid, 'SIGKILL');
    }
  }, 120_000);
});
