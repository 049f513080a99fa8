/**
 * Fleet events: what a web console needs to stay current without polling (a session opened,
 * changed state or ended, a kill was acknowledged, an instance came up, went down or was
 * lost). Each instance publishes its own on one Redis pub/sub channel and every admin
 * listener relays them as Server-Sent Events.
 *
 * These are rare (a few per session), never per chunk. Publishing is fire-and-forget: a
 * console missing an event re-reads the registry, so an event is dropped rather than queued
 * while Redis is not ready (ioredis's offline queue is unbounded).
 */
import type { Logger } from './logger.js';
import type { RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

export type FleetEvent =
  | { type: 'session_opened'; session: string; instance: string; user: string; asset: string; account: string; state: string }
  | { type: 'session_state'; session: string; instance: string; state: string }
  | { type: 'session_ended'; session: string; instance: string; reason: string; by?: string }
  | { type: 'kill_acknowledged'; session: string; instance: string; outcome: string; by: string; ms: number }
  | { type: 'instance_up' | 'instance_down' | 'instance_lost'; instance: string; sessions?: number };

export type FleetEventType = FleetEvent['type'];

export interface FleetEventSink {
  publish(event: FleetEvent): void;
}

export class FleetEvents implements FleetEventSink {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
  ) {}

  publish(event: FleetEvent): void {
    if (this.redis.status !== 'ready') return;
    const message = JSON.stringify({ ...event, at: Date.now() });
    this.redis.publish(this.keys.events, message).catch((err: Error) => this.log.debug({ err, event: event.type }, 'fleet event not published'));
  }

  /** Awaited variant for the last words of an instance (its connection closes right after). */
  async publishNow(event: FleetEvent): Promise<void> {
    if (this.redis.status !== 'ready') return;
    await this.redis.publish(this.keys.events, JSON.stringify({ ...event, at: Date.now() })).catch(() => {});
  }
}
