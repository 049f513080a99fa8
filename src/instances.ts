/**
 * Instances and their leases. Each running Warden writes its record and renews a lease key
 * (PX = lease) at every heartbeat; the fleet's reaper treats an instance without a lease as
 * lost. Reads serve `warden terminals` and the kill path (is the owner alive?).
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';

export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  started: number;
  heartbeat: number;
  sessions: number;
  address: string;
  alive: boolean;
}

export class InstanceRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async heartbeat(info: Omit<InstanceInfo, 'heartbeat' | 'alive'>, leaseMs: number, now = Date.now()): Promise<void> {
    const k = this.keys;
    await this.redis
      .multi()
      .set(k.lease(info.id), String(now), 'PX', leaseMs)
      .hset(k.instance(info.id), { ...info, heartbeat: now })
      .zadd(k.instances, now, info.id)
      .exec();
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
    return ids.flatMap((id, i) => {
      const h = res[2 * i]?.[1] as Record<string, string> | undefined;
      if (!h?.id) return [];
      return [{
        id, host: h.host ?? '', pid: Number(h.pid), version: h.version ?? '', started: Number(h.started),
        heartbeat: Number(h.heartbeat), sessions: Number(h.sessions), address: h.address ?? '', alive: res[2 * i + 1]?.[1] === 1,
      }];
    });
  }

  /** A lost instance is forgotten once reaped; a clean shutdown forgets itself. */
  async forget(id: string): Promise<void> {
    const k = this.keys;
    await this.redis.multi().del(k.lease(id), k.instance(id)).zrem(k.instances, id).exec();
  }
}
