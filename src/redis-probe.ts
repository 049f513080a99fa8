/**
 * The health probe's own Redis connection (src/redis-health.ts says why it has one), probed
 * from the moment it is ready: it has no offline queue, so a PING fails at once while it is
 * still connecting, and probing before then reported an outage at a slow start (a Cluster
 * learning its slots), refusing the first logins of a healthy instance.
 */
import type { ConnectionConfig } from './config-connection.js';
import { WardenError } from './errors.js';
import type { Logger } from './logger.js';
import { connectRedis, describeRedis, type RedisClient } from './redis-connection.js';
import { RedisHealth } from './redis-health.js';

const READY_WITHIN_MS = 10_000;

export interface RedisProbe {
  health: RedisHealth;
  close(): void;
}

/** Connect the probe, wait until it is ready, and start probing (`watched` must be ready too). */
export async function startRedisProbe(cfg: ConnectionConfig, watched: RedisClient, log: Logger): Promise<RedisProbe> {
  const probe = connectRedis(cfg, { probe: true });
  probe.on('error', (err: Error) => log.debug({ err }, 'redis error'));
  try {
    await whenReady(probe, READY_WITHIN_MS);
  } catch (err) {
    probe.disconnect();
    throw new WardenError('REDIS_UNAVAILABLE', `${describeRedis(cfg)}: the health probe connection is ${(err as Error).message}`);
  }
  const health = new RedisHealth(probe, [watched], { intervalMs: cfg.registry.probeInterval, deadlineMs: cfg.registry.probeTimeout }, log);
  health.start();
  return {
    health,
    close: () => {
      health.stop();
      probe.disconnect();
    },
  };
}

function whenReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`not ready within ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}
