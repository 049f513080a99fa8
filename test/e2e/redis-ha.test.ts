/**
 * Warden on highly available Redis, with real processes: Sentinel (master, replica, three
 * redis-sentinel) through a master failover, and a 3-master Redis Cluster running the core
 * path (login, exec, sessions, commands, kill) with every multi-key script in one slot.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/registry.js';
import { trackChild, waitUntil } from '../helpers/processes.js';
import { redisCli, startCluster, startSentinelSet, type RedisCluster, type SentinelSet } from '../helpers/redis-ha.js';
import { uniquePrefix } from '../helpers/redis.js';
import { BASE_OPTIONS, runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';

let sshd: SshdHandle;

beforeAll(async () => {
  sshd = await startSshd();
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
});

function stream(w: WardenProcess, marker: string) {
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', `i=0; while :; do i=$((i+1)); echo ${marker}-$i; sleep 0.1; done`]);
  trackChild(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out = (out + d).slice(-4096)));
  child.stderr.on('data', (d) => (err += d));
  return {
    child,
    ticks: () => Number([...out.matchAll(new RegExp(`${marker}-(\\d+)`, 'g'))].pop()?.[1] ?? 0),
    err: () => err,
    exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
  };
}

async function sessions(w: WardenProcess): Promise<{ live: SessionRecord[]; recent: SessionRecord[] }> {
  const res = await runCli(['sessions', '--all', '--json', '--config', w.configFile]);
  if (res.code !== 0) throw new Error(`warden sessions: ${res.stdout} ${res.stderr}`);
  return JSON.parse(res.stdout) as { live: SessionRecord[]; recent: SessionRecord[] };
}

async function liveId(w: WardenProcess, marker: string): Promise<string> {
  let id = '';
  await waitUntil(`record of ${marker}`, async () => {
    id = (await sessions(w)).live.find((r) => r.command?.includes(marker))?.id ?? '';
    return id !== '';
  }, { intervalMs: 300 });
  return id;
}

const loginWorks = async (w: WardenProcess) => (await runSsh({ port: w.port, login: 'alice@target@web1', identity: w.aliceKey, command: 'true' })).code === 0;

describe('Redis Sentinel', () => {
  let ha: SentinelSet;
  let w: WardenProcess;

  beforeAll(async () => {
    ha = await startSentinelSet();
    w = await spawnWarden({ sshd, redisYaml: ha.yaml, instanceId: 'sentinel-a' });
  }, 90_000);

  afterAll(async () => {
    await w?.stop();
    await ha?.stop();
  });

  it('a master failover while a session streams: the stream goes on, a kill after it lands, the registry is right', async () => {
    const live = stream(w, 'ha');
    const id = await liveId(w, 'ha');
    await waitUntil('record replicated', async () => (await redisCli(ha.replica.port, '--scan', '--pattern', `*:session:${id}`)) !== '');

    await ha.master.kill9();
    const before = live.ticks();
    await waitUntil('failover to the replica', async () => (await ha.currentMasterPort()) === ha.replica.port, { timeoutMs: 60_000, intervalMs: 250 });
    await waitUntil('stream went on through the failover', async () => live.ticks() > before + 10, { timeoutMs: 15_000 });
    await waitUntil('warden back on the new master', () => loginWorks(w), { timeoutMs: 30_000, intervalMs: 500 });

    const res = await runCli(['kill', id, '--by', 'erin', '--reason', 'after failover', '--config', w.configFile]);
    expect(res.stdout, res.stderr).toContain('Killed session');
    await waitUntil('user told', async () => live.err().includes('Terminated by admin erin: after failover'), { timeoutMs: 10_000 });
    expect(await live.exited).toBe(255);

    const { live: stillLive, recent } = await sessions(w);
    expect(stillLive.map((r) => r.id)).not.toContain(id);
    expect(recent.find((r) => r.id === id)).toMatchObject({ state: 'finished', reason: 'admin_kill', by: 'erin', instance: 'sentinel-a' });
  }, 120_000);
});

describe('Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster;
  let w: WardenProcess;

  beforeAll(async () => {
    cluster = await startCluster();
    w = await spawnWarden({ sshd, redisYaml: cluster.yaml, prefix: uniquePrefix() });
  }, 90_000);

  afterAll(async () => {
    await w?.stop();
    await cluster?.stop();
  });

  it('runs the core path: exec with its exit status, sessions, the command log and a kill', async () => {
    const res = await runSsh({ port: w.port, login: 'alice@target@web1', identity: w.aliceKey, command: 'echo on-cluster; exit 3' });
    expect(res.stdout.toString(), `${res.stderr}\n${w.log().slice(-3000)}`).toBe('on-cluster\n');
    expect(res.code).toBe(3);
    await waitUntil('exec recorded as finished', async () => (await sessions(w)).recent.some((r) => r.command?.includes('on-cluster') && r.state === 'finished' && r.exitStatus === '3'), { intervalMs: 300 });
    await waitUntil('exec in the command log', async () => (await runCli(['commands', '--grep', 'on-cluster', '--json', '--config', w.configFile])).stdout.includes('on-cluster'), { intervalMs: 300 });

    const live = stream(w, 'cl');
    const id = await liveId(w, 'cl');
    const killed = await runCli(['kill', id, '--by', 'erin', '--reason', 'cluster kill', '--config', w.configFile]);
    expect(killed.stdout, killed.stderr).toContain('Killed session');
    await waitUntil('user told', async () => live.err().includes('Terminated by admin erin: cluster kill'), { timeoutMs: 10_000 });
    expect((await sessions(w)).recent.find((r) => r.id === id)).toMatchObject({ state: 'finished', reason: 'admin_kill' });
    // Everything Warden and BullMQ wrote is in the one slot of the prefix's hash tag.
    const slots = new Set<string>();
    for (const n of cluster.nodes) {
      for (const k of (await redisCli(n.port, '--scan')).split('\n').filter(Boolean)) slots.add(await redisCli(n.port, 'cluster', 'keyslot', k));
    }
    expect(slots.size).toBe(1);
    expect(w.log()).not.toMatch(/CROSSSLOT/);
  }, 90_000);
});
