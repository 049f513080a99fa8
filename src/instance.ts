/**
 * The composition root: one running Warden instance. Its lifecycle is declared as data,
 * a list of stages started in order and stopped in reverse, so adding a part (a worker, a
 * heartbeat) is one entry here.
 */
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { FrontDoor, loadOrCreateHostKey } from './front-door.js';
import { HostKeyStore } from './hostkeys.js';
import { newSessionId } from './ids.js';
import type { Logger } from './logger.js';
import { connectRedis, startEmbeddedRedis, type EmbeddedRedis } from './redis.js';
import { RedisKeys } from './redis-keys.js';
import { Registry } from './registry.js';
import { checkNativeCrypto } from './native-check.js';
import { Supervisor } from './supervisor.js';

export interface Instance {
  id: string;
  address: AddressInfo;
  supervisor: Supervisor;
  registry: Registry;
  redis: Redis;
  keys: RedisKeys;
  stop(reason?: 'shutdown'): Promise<void>;
}

interface Stage {
  name: string;
  start(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

export async function startInstance(cfg: Config, log: Logger, audit: Logger = log.child({ audit: true })): Promise<Instance> {
  const id = cfg.instanceId ?? `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${newSessionId().slice(-8).toLowerCase()}`;
  const ilog = log.child({ instance: id });
  const keys = new RedisKeys(cfg.redisPrefix);
  let embedded: EmbeddedRedis | undefined;
  let redis!: Redis;
  let registry!: Registry;
  let supervisor!: Supervisor;
  let frontDoor!: FrontDoor;
  let address!: AddressInfo;

  const stages: Stage[] = [
    { name: 'native-crypto', start: () => checkNativeCrypto(ilog) },
    {
      name: 'embedded-redis',
      start: async () => {
        if (!cfg.redis) embedded = await startEmbeddedRedis(cfg, ilog);
      },
      stop: () => embedded?.stop(),
    },
    {
      name: 'redis',
      start: () => {
        redis = connectRedis(cfg);
        redis.on('error', (err: Error) => ilog.warn({ err: err.message }, 'redis error'));
        registry = new Registry(redis, keys, { retentionMs: cfg.registry.retention, historyMax: cfg.registry.historyMax });
      },
      stop: async () => {
        await redis.quit().catch(() => redis.disconnect());
      },
    },
    {
      name: 'supervisor',
      start: () => {
        supervisor = new Supervisor({ cfg, registry, hostKeys: new HostKeyStore(redis, keys), instanceId: id, log: ilog, audit }, ilog);
        supervisor.startActivityFlush(registry, cfg.registry.activityFlushInterval);
      },
      stop: () => supervisor.endAll({ reason: 'shutdown' }),
    },
    {
      name: 'front-door',
      start: async () => {
        const hostKey = loadOrCreateHostKey(cfg.hostKeyFile, ilog);
        frontDoor = new FrontDoor(supervisor, { hostKey, loginGraceMs: cfg.auth.loginGraceTime, keepaliveMs: cfg.clientKeepaliveInterval, maxPreAuth: 256 }, ilog);
        address = await frontDoor.listen(cfg.listen.host, cfg.listen.port);
      },
      stop: () => {
        void frontDoor.stopAccepting();
      },
    },
  ];

  const started: Stage[] = [];
  const stopAll = async () => {
    for (const stage of started.reverse()) {
      try {
        await stage.stop?.();
      } catch (err) {
        ilog.warn({ stage: stage.name, err: (err as Error).message }, 'stop failed');
      }
    }
  };
  try {
    for (const stage of stages) {
      await stage.start();
      started.push(stage);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  ilog.info({ address: `${address.address}:${address.port}` }, 'warden started');

  let stopping: Promise<void> | undefined;
  return {
    id,
    address,
    supervisor,
    registry,
    redis,
    keys,
    stop: () => (stopping ??= stopAll()),
  };
}
