/**
 * A real redis-server for tests, started from the project's redis.conf on a free port with
 * a temp dir as its data dir, so tests exercise the configuration that ships.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  makeTempDir,
  readText,
  removeTempDir,
  tail,
  trackChild,
  waitForExit,
  waitUntil,
} from './processes.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REDIS_CONF = path.join(REPO_ROOT, 'redis.conf');

export interface RedisHandle {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  /** Data dir (AOF lives here) and the server log `redis.log`. */
  dir: string;
  logPath: string;
  /** The server's combined stdout/stderr so far. */
  log(): string;
  /** Graceful shutdown (SIGTERM), then remove the dir. Final: restart() fails afterwards. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the dir: simulates a crash; restart() brings it back on the same port. */
  kill9(): Promise<void>;
  /** Graceful shutdown if running, then start again on the same port and dir; waits for PING. */
  restart(): Promise<void>;
  /** Send a signal to the running server (SIGSTOP freezes it, SIGCONT thaws it). */
  signal(sig: NodeJS.Signals): void;
}

/** A random key prefix for one test: letters, digits and '-', no ':' or hash-tag braces. */
export function uniquePrefix(): string {
  return `wt-${randomBytes(6).toString('hex')}`;
}

/** One raw PING over TCP; true on +PONG (a loading server answers -LOADING, i.e. false). */
export function redisPing(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    let got = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

export async function startRedis(opts: { port?: number; /** More redis-server arguments (e.g. --replicaof). */ args?: string[] } = {}): Promise<RedisHandle> {
  const dir = makeTempDir('redis');
  const logPath = path.join(dir, 'redis.log');
  // A copy: a sentinel's failover runs CONFIG REWRITE, which would edit the shipped file.
  const conf = path.join(dir, 'redis.conf');
  copyFileSync(REDIS_CONF, conf);
  let child: ChildProcess | undefined;
  let stopped = false;
  let port = opts.port ?? 0;

  const log = (): string => readText(logPath);

  async function launch(): Promise<void> {
    const fd = openSync(logPath, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn('redis-server', [conf, '--port', String(port), '--dir', dir, '--daemonize', 'no', ...(opts.args ?? [])], {
        cwd: dir,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    child = proc;
    trackChild(proc);
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
    });
    await waitUntil(`redis-server on port ${port}`, () => redisPing(port), {
      timeoutMs: 15_000,
      failure: () => {
        if (spawnError) return `could not start redis-server: ${spawnError.message}`;
        if (proc.exitCode !== null || proc.signalCode !== null) {
          return `redis-server exited (${proc.exitCode ?? proc.signalCode}) before answering PING`;
        }
        return undefined;
      },
      details: () => `--- ${logPath} ---\n${tail(log())}`,
    });
  }

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await waitForExit(proc, 10_000);
  }

  // A port picked here can be taken between the check and redis' bind; retry then.
  for (let attempt = 1; ; attempt++) {
    if (opts.port === undefined) port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await terminate('SIGKILL');
      const inUse = /Address already in use/i.test(log());
      if (opts.port !== undefined || !inUse || attempt >= 5) {
        removeTempDir(dir);
        throw err;
      }
    }
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    logPath,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate('SIGTERM');
      removeTempDir(dir);
    },
    async kill9() {
      await terminate('SIGKILL');
    },
    signal(sig) {
      if (!child || child.exitCode !== null) throw new Error(`signal(${sig}): redis-server is not running`);
      child.kill(sig);
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop(): the handle is finished');
      await terminate('SIGTERM');
      // SO_REUSEADDR lets redis rebind at once; retry briefly in case the old socket lingers.
      await waitUntil(`restart redis-server on port ${port}`, async () => {
        try {
          await launch();
          return true;
        } catch (err) {
          await terminate('SIGKILL');
          if (/Address already in use/i.test(tail(log(), 5))) return false;
          throw err;
        }
      }, { timeoutMs: 20_000, intervalMs: 200 });
    },
  };
}
