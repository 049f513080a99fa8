/**
 * Connections to the registry's Redis, in the three shapes `redis:` accepts: a URL (one
 * server), Sentinel settings (ioredis asks the sentinels for the current master and follows
 * failovers) or Cluster nodes; without `redis:`, the embedded redis-server over its unix
 * socket in dataDir. Every key Warden and BullMQ use shares the `{prefix}` hash tag, so on a
 * Cluster all of them live in one slot and multi-key scripts never cross slots.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { RedisSetting } from './config-redis.js';
import type { ConnectionConfig } from './config-connection.js';
import { WardenError } from './errors.js';

/** A single server (URL, Sentinel or embedded) or a Cluster: both speak the same commands. */
export type RedisClient = Redis | Cluster;

export function embeddedSocket(cfg: ConnectionConfig): string {
  return join(cfg.dataDir, 'redis.sock');
}

export interface ConnectionKind {
  /** BullMQ workers: never give up a request. */
  blocking?: boolean;
  /** The health probe: no offline queue, so a PING while disconnected fails at once. */
  probe?: boolean;
  /** CLI commands: one attempt, fail fast. */
  cli?: boolean;
}

/** What to print for the configured Redis (never a password). */
export function describeRedis(cfg: ConnectionConfig): string {
  const r = cfg.redis;
  if (r === undefined) return `embedded redis (${embeddedSocket(cfg)})`;
  if (typeof r === 'string') return r.replace(/\/\/[^@/]*@/, '//***@');
  if ('sentinels' in r) return `sentinel master "${r.name}" via ${r.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return `cluster ${r.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

/**
 * The trust store for Redis TLS without a caFile: Node's, plus the CAs of NODE_EXTRA_CA_CERTS.
 * Node reads that file itself at every start, so bin/warden hands it to the CLI's commands as
 * WARDEN_EXTRA_CA_CERTS instead (a cold `warden kill` that never opens TLS spent ~45 ms parsing
 * it); it joins the store here, where the only TLS connection a CLI command makes is opened.
 * Undefined: Node's store as it is.
 */
function defaultCas(): string[] | undefined {
  const file = process.env.WARDEN_EXTRA_CA_CERTS;
  if (!file) return undefined;
  try {
    // node:tls itself only now: a CLI command without TLS never loads it (see patches/ioredis*).
    const { rootCertificates } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
    return [...rootCertificates, readFileSync(file, 'utf8')];
  } catch (err) {
    // What Node does with an unreadable NODE_EXTRA_CA_CERTS: warn, and go on without it.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
    return undefined;
  }
}

function tlsOptions(tls: Exclude<RedisSetting, string>['tls']): TlsOptions | undefined {
  if (!tls) return undefined;
  if (tls === true) return { ca: defaultCas() };
  return { ca: tls.caFile ? readFileSync(tls.caFile) : defaultCas(), servername: tls.servername, rejectUnauthorized: tls.rejectUnauthorized };
}

function retry(kind: ConnectionKind): ((times: number) => number | null) {
  return kind.cli ? () => null : (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000);
}

function serverOptions(kind: ConnectionKind): RedisOptions {
  return {
    maxRetriesPerRequest: kind.blocking ? null : kind.probe || kind.cli ? 1 : 20,
    enableOfflineQueue: !kind.probe,
    enableReadyCheck: true,
    lazyConnect: kind.cli ?? false,
    connectionName: 'warden',
    retryStrategy: retry(kind),
    // A CLI connection:
    // - waits for nothing when it disconnects (ioredis waits up to disconnectTimeout for an
    //   ended socket to close): it has had every answer it awaits. A subscriber closed during
    //   its handshake (`warden kill` of an unknown id) is disconnected a second time by
    //   ioredis's failed ready check, on a stream already closed, and that timer (2 s by
    //   default) kept the finished CLI process alive.
    // - sends no CLIENT SETINFO: ioredis reads its version from its package.json, which is not
    //   next to the CLI bundle ("error-fetching-version" in CLIENT LIST); connectionName stays.
    ...(kind.cli ? { disconnectTimeout: 0, disableClientInfo: true } : {}),
  };
}

export function connectRedis(cfg: ConnectionConfig, kind: ConnectionKind = {}): RedisClient {
  const options = serverOptions(kind);
  const r = cfg.redis;
  if (r === undefined) return new Redis({ ...options, path: embeddedSocket(cfg) });
  // ioredis turns TLS on for exactly this prefix.
  if (typeof r === 'string') return new Redis(r, r.startsWith('rediss://') ? { ...options, tls: { ca: defaultCas() } } : options);
  const tls = tlsOptions(r.tls);
  if ('sentinels' in r) {
    return new Redis({
      ...options,
      sentinels: r.sentinels,
      name: r.name,
      password: r.password,
      sentinelPassword: r.sentinelPassword,
      tls,
      enableTLSForSentinelMode: tls !== undefined,
      sentinelRetryStrategy: retry(kind),
    });
  }
  // The cluster reconnects its nodes itself (clusterRetryStrategy); nodes take no strategy.
  const { retryStrategy: _perNode, ...nodeOptions } = options;
  return new Cluster(r.cluster, {
    redisOptions: { ...nodeOptions, password: r.password, tls },
    clusterRetryStrategy: retry(kind),
    enableOfflineQueue: options.enableOfflineQueue,
    enableReadyCheck: true,
    lazyConnect: options.lazyConnect,
  });
}

/** One-shot connection for CLI commands: fail fast with a message that says what to do. */
export async function connectRedisForCli(cfg: ConnectionConfig): Promise<RedisClient> {
  if (cfg.redis === undefined && !existsSync(embeddedSocket(cfg))) {
    throw new WardenError(
      'REDIS_UNAVAILABLE',
      `no embedded Redis at ${embeddedSocket(cfg)}: start Warden first (warden start --config ${cfg.file}), or set "redis:" in the config`,
    );
  }
  const redis = connectRedis(cfg, { cli: true });
  // Why the socket failed (a refused connection, an untrusted TLS certificate): connect()
  // itself only says "Connection is closed".
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new WardenError('REDIS_UNAVAILABLE', `${describeRedis(cfg)}: ${(cause ?? (err as Error)).message}`);
  }
  return redis;
}

/** A second connection like `redis` for a blocking reader (BullMQ QueueEvents). */
export function duplicateBlocking(redis: RedisClient): RedisClient {
  if (redis instanceof Cluster) return redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, maxRetriesPerRequest: null } });
  return redis.duplicate({ maxRetriesPerRequest: null });
}
