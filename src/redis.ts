/**
 * The embedded redis-server: without `redis:` in the config, Warden starts one from the
 * shipped redis.conf, reached over a unix socket in dataDir (no TCP port to collide with or
 * expose). Connections are made in redis-connection.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import { WardenError } from './errors.js';
import type { Logger } from './logger.js';
import { packageRoot } from './paths.js';
import { makePrivateDir } from './private-files.js';
import { withTimeout } from './timeout.js';
import { embeddedSocket } from './redis-connection.js';

export interface EmbeddedRedis {
  socket: string;
  /** True when this process started redis-server (and must stop it). */
  owned: boolean;
  /** SIGTERM (redis-server writes its AOF and exits), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
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
  makePrivateDir(dir);
  const conf = join(packageRoot(), 'redis.conf');
  let child: ChildProcess;
  try {
    // umask 077: redis-server creates its AOF files with the umask it inherits, and there is
    // no config option for their mode. `detached`: its own process group, so a Ctrl-C in the
    // terminal reaches Warden only, which writes the final records and then stops it.
    const args = [conf, '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--daemonize', 'no'];
    child = spawn('/bin/sh', ['-c', 'umask 077 && exec redis-server "$@"', 'redis-server', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
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
      const missing = code === 127 || /not found/.test(output);
      const hint = missing ? 'is redis-server installed? (Debian: apt-get install redis-server)' : output.trim().split('\n').slice(-3).join(' | ');
      throw new WardenError('EMBEDDED_REDIS_FAILED', hint);
    }
  }
  log.info({ socket, redisPid: child.pid }, "embedded redis-server started");
  return {
    socket,
    owned: true,
    stop: async (graceMs = 5_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await withTimeout(exited, graceMs);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
