/**
 * Fleet-wide counters (kills, idle warnings, idle timeouts, reaped sessions) in one Redis
 * hash. They count rare control events, never data, so a HINCRBY each is cheap; failures are
 * ignored rather than allowed to disturb a session.
 */
import type { RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

export const COUNTERS = ['kills', 'idle_warnings', 'idle_timeouts', 'max_duration', 'reaped'] as const;
export type CounterName = (typeof COUNTERS)[number];

export class Counters {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  add(name: CounterName, by = 1): void {
    void this.redis.hincrby(this.keys.counters, name, by).catch(() => {});
  }

  async read(): Promise<Record<CounterName, number>> {
    const h = await this.redis.hgetall(this.keys.counters);
    return Object.fromEntries(COUNTERS.map((n) => [n, Number(h[n] ?? 0)])) as Record<CounterName, number>;
  }
}
