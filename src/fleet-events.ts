/**
 * Fleet events: what a web console needs to stay current without polling (a session opened,
 * changed state or ended, a kill was acknowledged, an instance came up, went down or was
 * lost). Each instance publishes its own on one Redis pub/sub channel and every admin
 * listener relays them as Server-Sent Events.
 *
 * These are rare (a few per session), never per chunk: session events follow the registry's
 * state changes (registry.ts tells its listener). Publishing is fire-and-forget: a
 * console missing an event re-reads the registry, so an event is dropped rather than queued
 * while Redis is not ready (ioredis's offline queue is unbounded).
 */
import type { EndReason } from '../machines/session.types.js';
import { tapAudit } from './admin/audit-tap.js';
import { AuditStream } from './audit/audit-stream.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import type { RegistryListener } from './registry.js';
import type { SessionRecord } from './session-record.js';

export type FleetEvent =
  | { type: 'session_opened'; session: string; instance: string; user: string; asset: string; account: string; state: string }
  | { type: 'session_state'; session: string; instance: string; state: string; idleDeadline?: number }
  | { type: 'session_ended'; session: string; instance: string; reason: string; by?: string }
  | { type: 'kill_acknowledged'; session: string; instance: string; outcome: string; by: string; ms: number }
  | { type: 'instance_up' | 'instance_down' | 'instance_lost'; instance: string; sessions?: number };

export type FleetEventType = FleetEvent['type'];

export interface FleetEventSink {
  publish(event: FleetEvent): void;
}

/** Sessions announced and not yet ended are remembered; a bound in case a finish never lands. */
const MAX_ANNOUNCED = 100_000;

/**
 * This instance's feeds into the fleet: its fleet events (published, and derived from the
 * registry changes it applies) and the Redis copy of its audit log (audit-stream.ts). Made
 * before Redis is connected, so the audit logger can be tapped first.
 */
export class FleetEvents implements FleetEventSink, RegistryListener {
  private redis: RedisClient | undefined;
  private keys: RedisKeys | undefined;
  private auditStream: AuditStream | undefined;
  private readonly announced = new Set<string>();

  constructor(
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  connect(redis: RedisClient, keys: RedisKeys): void {
    this.redis = redis;
    this.keys = keys;
    this.auditStream = new AuditStream(redis, keys, this.instanceId, this.log);
  }

  /** The audit logger whose events are also copied to the fleet's stream. */
  tap(audit: Logger): Logger {
    return tapAudit(audit, (e) => this.auditStream?.onAudit(e));
  }

  publish(event: FleetEvent): void {
    if (this.redis?.status !== 'ready' || !this.keys) return;
    this.redis.publish(this.keys.events, JSON.stringify({ ...event, at: Date.now() })).catch((err: Error) => this.log.debug({ err, event: event.type }, 'fleet event not published'));
  }

  /**
   * Consoles hear of a session once it has a user: pre-auth connections are not announced, so
   * a flood of them (bounded by maxStartups, but unauthenticated) cannot flood every console.
   */
  stateChanged(id: string, f: Partial<SessionRecord>): void {
    if (!f.user || !f.state) return;
    const instance = this.instanceId;
    if (this.announced.has(id)) {
      const idleDeadline = f.state === 'idle' ? f.idleDeadline : undefined;
      return this.publish({ type: 'session_state', session: id, instance, state: f.state, ...(idleDeadline ? { idleDeadline } : {}) });
    }
    if (this.announced.size >= MAX_ANNOUNCED) this.announced.delete(this.announced.values().next().value!);
    this.announced.add(id);
    this.publish({ type: 'session_opened', session: id, instance, user: f.user, asset: f.asset ?? '', account: f.account ?? '', state: f.state });
  }

  finished(rec: SessionRecord & { reason: EndReason }): void {
    if (this.announced.delete(rec.id)) this.publish({ type: 'session_ended', session: rec.id, instance: rec.instance, reason: rec.reason, by: rec.by });
  }

  /** The last words of a stopping instance: what the audit stream holds, and instance_down. */
  async close(): Promise<void> {
    await this.auditStream?.close();
    if (this.redis?.status === 'ready' && this.keys) {
      await this.redis.publish(this.keys.events, JSON.stringify({ type: 'instance_down', instance: this.instanceId, at: Date.now() })).catch(() => {});
    }
  }
}
