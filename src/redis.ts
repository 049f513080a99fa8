/**
 * Redis connections. With `redis:` in the config Warden uses that server; without it, the
 * embedded redis-server started from the shipped redis.conf, reached over a unix socket in
 * dataDir (no TCP port to collide with or expose).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import { WardenError } from './errors.js';
import type { Logger } from './logger.js';
import { packageRoot } from './paths.js';
import { withTimeout } from './timeout.js';

export function embeddedSocket(cfg: Config): string {
  return join(cfg.dataDir, 'redis.sock');
}

/** Options for a connection; `blocking` ones (BullMQ workers) must never give up a request. */
export function redisOptions(cfg: Config, opts: { blocking?: boolean; lazy?: boolean } = {}): { url?: string; options: RedisOptions } {
  const options: RedisOptions = {
    maxRetriesPerRequest: opts.blocking ? null : 20,
    enableReadyCheck: true,
    lazyConnect: opts.lazy ?? false,
    connectionName: 'warden',
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
  };
  if (cfg.redis) return { url: cfg.redis, options };
  return { options: { ...options, path: embeddedSocket(cfg) } };
}

export function connectRedis(cfg: Config, opts: { blocking?: boolean; lazy?: boolean } = {}): Redis {
  const { url, options } = redisOptions(cfg, opts);
  return url ? new Redis(url, options) : new Redis(options);
}

/** One-shot connection for CLI commands: fail fast with a message that says what to do. */
export async function connectRedisForCli(cfg: Config): Promise<Redis> {
  if (!cfg.redis && !existsSync(embeddedSocket(cfg))) {
    throw new WardenError(
      'REDIS_UNAVAILABLE',
      `no embedded Redis at ${embeddedSocket(cfg)}: start Warden first (warden start --config ${cfg.file}), or set "redis:" in the config`,
    );
  }
  const { url, options } = redisOptions(cfg);
  const cli = { ...options, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true };
  const redis = url ? new Redis(url, cli) : new Redis(cli);
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new WardenError('REDIS_UNAVAILABLE', `${cfg.redis ?? embeddedSocket(cfg)}: ${(err as Error).message}`);
  }
  return redis;
}

export interface EmbeddedRedis {
  socket: string;
  /** True when this process started redis-server (and must stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

async function answers(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  const probe = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function startEmbeddedRedis(cfg: Config, log: Logger): Promise<EmbeddedRedis> {
  const socket = embeddedSocket(cfg);
  if (await answers(socket)) {
    log.info({ socket }, 'using the embedded redis-server already running for this dataDir');
    return { socket, owned: false, stop: async () => {} };
  }
  rmSync(socket, { force: true });
  const dir = join(cfg.dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const conf = join(packageRoot(), 'redis.conf');
  let child: ChildProcess;
  try {
    child = spawn('redis-server', [conf, '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new WardenError('EMBEDDED_REDIS_FAILED', (err as Error).message);
  }
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await answers(socket)) break;
    const code = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 50))]);
    if (code !== 'wait' || Date.now() > deadline) {
      child.kill('SIGKILL');
      const hint = code === -1 ? 'is redis-server installed? (Debian: apt-get install redis-server)' : output.trim().split('\n').slice(-3).join(' | ');
      throw new WardenError('EMBEDDED_REDIS_FAILED', hint);
    }
  }
  log.info({ socket, redisPid: child.pid }, "embedded redis-server started");
  return {
    socket,
    owned: true,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await withTimeout(exited, 5_000);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
