/**
 * Redis high availability on loopback, from the project's redis.conf: a master with one
 * replica watched by three real redis-sentinel processes, and a 3-master Redis Cluster made
 * by `redis-cli --cluster create`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, makeTempDir, readText, removeTempDir, tail, trackChild, waitForExit, waitUntil } from './processes.js';
import { redisPing, startRedis, type RedisHandle } from './redis.js';

const run = promisify(execFile);

/** One redis-cli command against 127.0.0.1:port; its trimmed output ('' if it failed). */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  try {
    return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5_000 })).stdout.trim();
  } catch {
    return '';
  }
}

export interface SentinelSet {
  master: RedisHandle;
  replica: RedisHandle;
  sentinelPorts: number[];
  name: string;
  /** The `redis:` value for Warden's config (flow YAML). */
  yaml: string;
  /** Port of the server the sentinels call master now. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinelSet(name = 'wardenmaster'): Promise<SentinelSet> {
  const master = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await waitUntil('replica in sync', async () => /master_link_status:up/.test(await redisCli(replica.port, 'info', 'replication')), { timeoutMs: 15_000 });
  const dir = makeTempDir('sentinel-');
  const children: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = path.join(dir, `sentinel-${i}.conf`);
    // Short timings so a failover takes seconds; quorum 2 of 3.
    writeFileSync(conf, [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'));
    const log = path.join(dir, `sentinel-${i}.log`);
    const fd = openSync(log, 'a');
    const child = spawn('redis-sentinel', [conf], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    trackChild(child);
    children.push(child);
    sentinelPorts.push(port);
    await waitUntil(`sentinel on ${port}`, () => redisPing(port), { timeoutMs: 10_000, details: () => tail(readText(log)) });
  }
  // Every sentinel knows the replica and the two other sentinels before anything fails.
  await waitUntil('sentinels agree', async () => {
    for (const p of sentinelPorts) {
      const replicas = await redisCli(p, 'sentinel', 'replicas', name);
      const others = await redisCli(p, 'sentinel', 'sentinels', name);
      if (!replicas.includes(String(replica.port)) || (others.match(/^runid$/gm) ?? []).length < 2) return false;
    }
    return true;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  return {
    master,
    replica,
    sentinelPorts,
    name,
    yaml: `{ sentinels: [${sentinelPorts.map((p) => `{ host: 127.0.0.1, port: ${p} }`).join(', ')}], name: ${name} }`,
    async currentMasterPort() {
      return Number((await redisCli(sentinelPorts[0]!, 'sentinel', 'get-master-addr-by-name', name)).split('\n')[1]);
    },
    async stop() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => waitForExit(c, 5_000)));
      await Promise.all([master.stop(), replica.stop()]);
      removeTempDir(dir);
    },
  };
}

export interface RedisCluster {
  nodes: RedisHandle[];
  yaml: string;
  stop(): Promise<void>;
}

export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisHandle[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
  }
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
  await waitUntil('cluster ok on every node', async () => {
    for (const n of nodes) if (!/cluster_state:ok/.test(await redisCli(n.port, 'cluster', 'info'))) return false;
    return true;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  return {
    nodes,
    yaml: `{ cluster: [${nodes.map((n) => `{ host: 127.0.0.1, port: ${n.port} }`).join(', ')}] }`,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
