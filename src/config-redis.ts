/** The `redis:` setting: a URL, Sentinel settings or Cluster nodes (see src/redis-connection.ts). */
import * as z from './zod.js';

const redisNode = z.strictObject({ host: z.string().check(z.minLength(1)), port: z.int().check(z.minimum(1), z.maximum(65535)) });
const redisTls = z.union([
  z.boolean(),
  z.strictObject({ caFile: z.optional(z.string()), servername: z.optional(z.string()), rejectUnauthorized: z.optional(z.boolean()) }),
]);
export const redisSetting = z.union([
  z.url(),
  z.strictObject({
    sentinels: z.array(redisNode).check(z.minLength(1)),
    /** The master's name in the sentinels' configuration. */
    name: z.string().check(z.minLength(1)),
    password: z.optional(z.string()),
    sentinelPassword: z.optional(z.string()),
    tls: z.optional(redisTls),
  }),
  z.strictObject({ cluster: z.array(redisNode).check(z.minLength(1)), password: z.optional(z.string()), tls: z.optional(redisTls) }),
]);

export type RedisSetting = z.output<typeof redisSetting>;
