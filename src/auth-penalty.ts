/**
 * Fleet-wide penalty for sources that keep failing authentication: failures per remote
 * address are counted in Redis for a window; past the threshold every instance refuses that
 * address until the window passes. Checked once per connection, before its first attempt,
 * never on the data path.
 */
import type { RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import { withTimeout } from './timeout.js';

const LOOKUP_TIMEOUT_MS = 250;

export interface PenaltyRules {
  threshold: number;
  windowMs: number;
}

export class AuthPenalty {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly rules: PenaltyRules,
  ) {}

  /**
   * True if the address is over the threshold. Fails open, and at once, when Redis cannot
   * answer: a login must never wait on the registry (the outage policy decides after auth).
   */
  async blocked(source: string): Promise<boolean> {
    if (this.rules.threshold <= 0 || this.redis.status !== 'ready') return false;
    try {
      const count = await withTimeout(this.redis.get(this.keys.authFailures(source)), LOOKUP_TIMEOUT_MS);
      return Number(count ?? 0) >= this.rules.threshold;
    } catch {
      return false;
    }
  }

  failed(source: string): void {
    if (this.rules.threshold <= 0 || this.redis.status !== 'ready') return;
    const key = this.keys.authFailures(source);
    // The window starts at the first failure and is not extended: a blocked source is let in
    // again once it has stayed away.
    void this.redis.multi().incr(key).pexpire(key, this.rules.windowMs, 'NX').exec().catch(() => {});
  }
}
