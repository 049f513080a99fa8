/** The `redis:` setting: a URL, Sentinel settings or Cluster nodes (see src/redis-connection.ts). */
import * as z from 'zod';

const redisNode = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict();
const redisTls = z.union([
  z.boolean(),
  z.object({ caFile: z.string().optional(), servername: z.string().optional(), rejectUnauthorized: z.boolean().optional() }).strict(),
]);
export const redisSetting = z.union([
  z.string().url(),
  z
    .object({
      sentinels: z.array(redisNode).min(1),
      /** The master's name in the sentinels' configuration. */
      name: z.string().min(1),
      password: z.string().optional(),
      sentinelPassword: z.string().optional(),
      tls: redisTls.optional(),
    })
    .strict(),
  z.object({ cluster: z.array(redisNode).min(1), password: z.string().optional(), tls: redisTls.optional() }).strict(),
]);

export type RedisSetting = z.output<typeof redisSetting>;
