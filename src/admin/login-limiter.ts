/**
 * Failed admin logins, counted per source address and per admin name in a fixed one-minute
 * window. Either count over the limit refuses the next attempt before the password is even
 * hashed, so guessing costs the attacker time and the server no scrypt work. The map is
 * bounded: a flood of distinct keys evicts the oldest windows.
 */
const WINDOW_MS = 60_000;
const MAX_KEYS = 10_000;

export class LoginLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  private count(key: string): number {
    const w = this.windows.get(key);
    if (!w || this.now() - w.start >= WINDOW_MS) return 0;
    return w.count;
  }

  /** True when this source or this name has used up its failures for the window. */
  blocked(source: string, name: string): boolean {
    return this.count(`s:${source}`) >= this.limit || this.count(`n:${name}`) >= this.limit;
  }

  fail(source: string, name: string): void {
    for (const key of [`s:${source}`, `n:${name}`]) {
      const w = this.windows.get(key);
      if (w && this.now() - w.start < WINDOW_MS) w.count += 1;
      else {
        this.windows.delete(key);
        this.windows.set(key, { start: this.now(), count: 1 });
      }
    }
    while (this.windows.size > MAX_KEYS) this.windows.delete(this.windows.keys().next().value!);
  }
}
