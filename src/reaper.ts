/**
 * The reaper: finalises the live sessions of instances whose lease expired, as
 * `instance_lost`. Every instance runs one; a lock makes exactly one act at a time across the
 * fleet. Reaping itself is a script that re-checks the lease, so an instance that heartbeats
 * at the last moment is left alone.
 */
import type { Logger } from './logger.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { Registry } from './registry.js';
import type { Counters } from './counters.js';
import type { FleetEventSink } from './fleet-events.js';

export class Reaper {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly selfId: string,
    private readonly registry: Registry,
    private readonly instances: InstanceRegistry,
    private readonly counters: Counters,
    private readonly log: Logger,
    private readonly events?: FleetEventSink,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.tick(everyMs), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns the ids finalised (exposed for tests). */
  async tick(everyMs: number): Promise<string[]> {
    if (this.running) return [];
    this.running = true;
    try {
      if (!(await this.registry.acquireLock(this.registry.keys.reaperLock, this.selfId, everyMs * 3))) return [];
      const reaped: string[] = [];
      for (const inst of await this.instances.list()) {
        if (inst.alive || inst.id === this.selfId) continue;
        const ids = await this.registry.reapInstance(inst.id);
        await this.instances.forget(inst.id);
        this.events?.publish({ type: 'instance_lost', instance: inst.id, sessions: ids.length });
        if (ids.length) {
          this.counters.add('reaped', ids.length);
          this.log.warn({ lost: inst.id, sessions: ids.length }, 'instance lease expired: sessions finalised as instance_lost');
        }
        reaped.push(...ids);
      }
      return reaped;
    } catch (err) {
      this.log.warn({ err }, 'reaper pass failed');
      return [];
    } finally {
      this.running = false;
    }
  }
}
