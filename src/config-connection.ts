/**
 * The part of the config that says how to reach the fleet's Redis, which is all that the CLI's
 * registry commands (`warden kill`, `sessions`, `watch`, `terminals`, ...) need. Reading only this
 * part skips validating users, assets, accounts and grants (ssh2's key parser, the command
 * filters, most of the schema): that was the largest part of a cold `warden kill` before it
 * sent anything. It also lets an admin kill sessions while another part of the file is being
 * fixed. `warden start` and `check-config` read and validate the whole file (config.ts), whose
 * schema is built from these same fields.
 */
import { dirname, resolve } from 'node:path';
import { parseConfigText, readConfigText } from './config-file.js';
import { redisSetting } from './config-redis.js';
import { registrySection } from './config-sections.js';
import * as z from './zod.js';

export const connectionFields = {
  dataDir: z._default(z.string(), './data'),
  redis: z.optional(redisSetting),
  redisPrefix: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.-]+$/)), 'warden'),
  registry: registrySection,
};

// Not strict: every other key belongs to the full config.
const connectionSchema = z.object(connectionFields);

export type ConnectionConfig = z.output<typeof connectionSchema> & {
  /** Absolute path of the file this came from. */
  file: string;
};

/** Resolve the connection's relative paths (dataDir, a Redis CA file) against the file's directory. */
export function withConnectionPaths<C extends Omit<ConnectionConfig, 'file'>>(cfg: C, file: string): C & { file: string } {
  const abs = (p: string) => resolve(dirname(resolve(file)), p);
  const redis = cfg.redis;
  return {
    ...cfg,
    file: resolve(file),
    dataDir: abs(cfg.dataDir),
    redis: typeof redis === 'object' && typeof redis.tls === 'object' && redis.tls.caFile ? { ...redis, tls: { ...redis.tls, caFile: abs(redis.tls.caFile) } } : redis,
  };
}

export function parseConnectionConfig(text: string, file: string): ConnectionConfig {
  return withConnectionPaths(parseConfigText(connectionSchema, text, file), file);
}

export function loadConnectionConfig(file: string): ConnectionConfig {
  return parseConnectionConfig(readConfigText(file), file);
}
