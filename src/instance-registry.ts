/**
 * Instances and their leases. Each running Warden writes its record and renews a lease key
 * (PX = lease) at every heartbeat; the fleet's reaper treats an instance without a lease as
 * lost. Reads serve `warden terminals` and the kill path (is the owner alive?).
 */
import type { RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import { parseCounts } from './instance-counts.js';
import * as z from './zod.js';

const num = z.coerce.number();

/** An instance's hash as stored by its heartbeat. */
const storedInstance = z.object({
  id: z.string().check(z.minLength(1)),
  host: z._default(z.string(), ''),
  pid: num,
  version: z._default(z.string(), ''),
  started: num,
  heartbeat: num,
  sessions: z._default(num, 0),
  address: z._default(z.string(), ''),
  /** Where its admin API answers other instances (recording proxy); '' without one. */
  adminUrl: z._default(z.string(), ''),
  /** `2/4` for worker 2 of `warden start --workers 4`; '' for a process on its own. */
  worker: z._default(z.string(), ''),
  /** What it has seen since it started (instance-counts.ts), as of its last heartbeat. */
  counts: z.pipe(z._default(z.string(), ''), z.transform(parseCounts)),
});

export type InstanceInfo = z.output<typeof storedInstance> & { alive: boolean };

export class InstanceRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** Fields this process adds to its record (its admin URL): written now and at every heartbeat. */
  private readonly advertised: Record<string, string> = {};

  async advertise(id: string, fields: Record<string, string>): Promise<void> {
    Object.assign(this.advertised, fields);
    await this.redis.hset(this.keys.instance(id), fields);
  }

  /** `counts`: InstanceCounts.serialize() of this instance. */
  async heartbeat(info: Omit<InstanceInfo, 'heartbeat' | 'alive' | 'adminUrl' | 'worker' | 'counts'> & { counts: string }, leaseMs: number, now = Date.now()): Promise<void> {
    const k = this.keys;
    await this.redis
      .multi()
      .set(k.lease(info.id), String(now), 'PX', leaseMs)
      .hset(k.instance(info.id), { ...info, ...this.advertised, heartbeat: now })
      .zadd(k.instances, now, info.id)
      .exec();
  }

  /** One instance's record, if it is still registered. */
  async get(id: string): Promise<InstanceInfo | undefined> {
    const res = (await this.redis.pipeline().hgetall(this.keys.instance(id)).exists(this.keys.lease(id)).exec()) ?? [];
    const parsed = storedInstance.safeParse(res[0]?.[1]);
    return parsed.success ? { ...parsed.data, alive: res[1]?.[1] === 1 } : undefined;
  }

  async alive(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.lease(id))) === 1;
  }

  async list(): Promise<InstanceInfo[]> {
    const ids = await this.redis.zrange(this.keys.instances, 0, -1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.instance(id)).exists(this.keys.lease(id));
    const res = (await pipe.exec()) ?? [];
    return ids.flatMap((_id, i) => {
      const parsed = storedInstance.safeParse(res[2 * i]?.[1]);
      return parsed.success ? [{ ...parsed.data, alive: res[2 * i + 1]?.[1] === 1 }] : [];
    });
  }

  /** A lost instance is forgotten once reaped; a clean shutdown forgets itself. */
  async forget(id: string): Promise<void> {
    const k = this.keys;
    await this.redis.multi().del(k.lease(id), k.instance(id)).zrem(k.instances, id).exec();
  }
}
