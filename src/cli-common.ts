/** What every `warden` CLI command shares: flag types, --config loading, a registry connection. */
import type { Config } from './config.js';
import type { ConnectionConfig } from './config-connection.js';
import { WardenError } from './errors.js';
import type { Registry } from './registry.js';

export type Flags = Record<string, string | boolean | undefined>;
export interface Command {
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  run(flags: Flags, positionals: string[]): Promise<number>;
}

export const CONFIG = { config: { type: 'string' as const, short: 'c' } };

export async function config(flags: Flags): Promise<Config> {
  if (typeof flags.config !== 'string') throw new WardenError('USAGE', '--config FILE is required');
  const { loadConfig } = await import('./config.js');
  return loadConfig(flags.config);
}

/** The config's Redis part only (config-connection.ts): what the registry commands need. */
export async function connectionConfig(flags: Flags): Promise<ConnectionConfig> {
  if (typeof flags.config !== 'string') throw new WardenError('USAGE', '--config FILE is required');
  const { loadConnectionConfig } = await import('./config-connection.js');
  return loadConnectionConfig(flags.config);
}

/** Run `fn` on the registry; `load` reads the config (the Redis part unless a command needs more). */
export async function withRegistry<T, C extends ConnectionConfig = ConnectionConfig>(
  flags: Flags,
  fn: (registry: Registry, cfg: C) => Promise<T>,
  load: (flags: Flags) => Promise<C> = connectionConfig as (flags: Flags) => Promise<C>,
): Promise<T> {
  const cfg = await load(flags);
  const [{ connectRedisForCli }, { RedisKeys }, { Registry }, { zodForOneShot }] = await Promise.all([
    import('./redis-connection.js'), import('./redis-keys.js'), import('./registry.js'), import('./zod-one-shot.js'),
  ]);
  zodForOneShot();
  const redis = await connectRedisForCli(cfg);
  try {
    return await fn(new Registry(redis, new RedisKeys(cfg.redisPrefix), { retentionMs: cfg.registry.retention, historyMax: cfg.registry.historyMax }), cfg);
  } finally {
    redis.disconnect();
  }
}

export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => (data += d));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}
