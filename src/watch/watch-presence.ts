/**
 * Who watches which session, in Redis, so any instance (or a CLI with no admin listener) can
 * watch a session owned by any other: a sorted set per session of watcher descriptions scored
 * by when they expire. A watcher refreshes its entry every HEARTBEAT_MS; one that crashes
 * simply stops refreshing and is gone TTL_MS later, so publishing never stays on forever.
 * Joining and leaving also ping the owner on its watch-control channel so it reacts at once
 * instead of at its next poll.
 */
import type { RedisClient } from '../redis-connection.js';
import type { RedisKeys } from '../redis-keys.js';
import { printable } from '../text.js';

export const WATCH_HEARTBEAT_MS = 2_000;
export const WATCH_TTL_MS = 6_000;
/** Watchers of one session the owner looks at (a hostile admin script cannot make it read more). */
const MAX_WATCHERS = 32;

export interface WatcherInfo {
  /** Random, per watch. */
  id: string;
  /** The admin (API principal, or the OS user running `warden watch`). */
  who: string;
  via: 'api' | 'cli';
  /** Where from: the API client's address, or the CLI's host. */
  from: string;
}

function parse(member: string): WatcherInfo | undefined {
  try {
    const v = JSON.parse(member) as Partial<WatcherInfo>;
    if (typeof v.id !== 'string' || typeof v.who !== 'string' || typeof v.from !== 'string' || (v.via !== 'api' && v.via !== 'cli')) return undefined;
    return { id: printable(v.id, 64), who: printable(v.who, 64), via: v.via, from: printable(v.from, 128) };
  } catch {
    return undefined;
  }
}

export class WatchPresence {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  private member(w: WatcherInfo): string {
    return JSON.stringify({ id: w.id, who: w.who.slice(0, 64), via: w.via, from: w.from.slice(0, 128) });
  }

  /** Add or refresh a watcher; `notify` pings the owner (on join, not on every refresh). */
  async beat(sessionId: string, w: WatcherInfo, owner?: string): Promise<void> {
    const key = this.keys.watchers(sessionId);
    const tx = this.redis.multi().zadd(key, Date.now() + WATCH_TTL_MS, this.member(w)).pexpire(key, WATCH_TTL_MS * 2);
    await tx.exec();
    if (owner) await this.redis.publish(this.keys.watchControl(owner), sessionId);
  }

  async leave(sessionId: string, w: WatcherInfo, owner: string): Promise<void> {
    await this.redis.zrem(this.keys.watchers(sessionId), this.member(w));
    await this.redis.publish(this.keys.watchControl(owner), sessionId);
  }

  /** The watchers whose entry has not expired (expired ones are removed). */
  async current(sessionId: string, now = Date.now()): Promise<WatcherInfo[]> {
    const key = this.keys.watchers(sessionId);
    const res = await this.redis.multi().zremrangebyscore(key, '-inf', now).zrange(key, 0, MAX_WATCHERS - 1).exec();
    const members = (res?.[1]?.[1] ?? []) as string[];
    return members.map(parse).filter((w): w is WatcherInfo => w !== undefined);
  }
}
