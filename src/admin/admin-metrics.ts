/**
 * GET /metrics: Prometheus text from prom-client, every name `warden_*`, no session ids as
 * labels (unbounded cardinality). Fleet gauges are read from the registry at scrape time
 * (bounded by a deadline, so a Redis outage makes a scrape quick, not stuck); counters of
 * this instance come from the audit tap and the admin API's own kills.
 */
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { RedisClient as Redis } from '../redis-connection.js';
import type { Counters } from '../counters.js';
import type { InstanceRegistry } from '../instance-registry.js';
import type { Registry } from '../registry.js';
import { withTimeout } from '../timeout.js';
import type { AuditListener } from './audit-tap.js';

export interface MetricsSources {
  id: string;
  redis: Redis;
  registry: Registry;
  instances: InstanceRegistry;
  counters: Counters;
}

const SCRAPE_DEADLINE_MS = 1_000;

export class AdminMetrics {
  readonly register = new PromRegistry();
  private sources: MetricsSources | undefined;
  private readonly ended = new Counter({ name: 'warden_sessions_ended_total', help: 'Sessions of this instance ended, by reason', labelNames: ['reason'], registers: [this.register] });
  private readonly authFailures = new Counter({ name: 'warden_auth_failures_total', help: 'Failed SSH authentications on this instance, by method', labelNames: ['method'], registers: [this.register] });
  readonly adminLoginFailures = new Counter({ name: 'warden_admin_login_failures_total', help: 'Failed admin API logins on this instance', registers: [this.register] });
  readonly killLatency = new Histogram({
    name: 'warden_kill_latency_seconds',
    help: 'Admin API kill: request to the owner\'s acknowledgement',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.register],
  });

  constructor() {
    collectDefaultMetrics({ register: this.register, prefix: 'warden_' });
    const self = this;
    new Gauge({
      name: 'warden_live_sessions',
      help: 'Live sessions fleet-wide (the registry), by state and instance',
      labelNames: ['state', 'instance'],
      registers: [this.register],
      async collect() {
        this.reset();
        const live = await self.read((s) => s.registry.listLive());
        for (const r of live ?? []) this.inc({ state: r.state, instance: r.instance });
      },
    });
    new Gauge({
      name: 'warden_relayed_bytes',
      help: 'Bytes relayed by this instance\'s live sessions (as last flushed to the registry)',
      labelNames: ['direction'],
      registers: [this.register],
      async collect() {
        this.reset();
        const live = await self.read((s) => s.registry.listLive(s.id));
        if (!live) return;
        this.set({ direction: 'in' }, live.reduce((n, r) => n + r.bytesIn, 0));
        this.set({ direction: 'out' }, live.reduce((n, r) => n + r.bytesOut, 0));
      },
    });
    new Gauge({
      name: 'warden_fleet_events',
      help: 'Fleet-wide control events so far (kills, idle warnings, idle timeouts, max duration, reaped)',
      labelNames: ['kind'],
      registers: [this.register],
      async collect() {
        this.reset();
        const counts = await self.read((s) => s.counters.read());
        for (const [kind, n] of Object.entries(counts ?? {})) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'warden_redis_up',
      help: '1 when this instance\'s Redis connection is ready',
      registers: [this.register],
      collect() {
        this.set(self.sources?.redis.status === 'ready' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'warden_lease_held',
      help: '1 while this instance holds its lease',
      registers: [this.register],
      async collect() {
        this.set((await self.read((s) => s.instances.alive(s.id))) ? 1 : 0);
      },
    });
  }

  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** For tapAudit: counts the audit events that are metrics. */
  readonly onAudit: AuditListener = (e) => {
    if (e.event === 'session_end' && typeof e.reason === 'string') this.ended.inc({ reason: e.reason });
    else if (e.event === 'auth_failure') this.authFailures.inc({ method: typeof e.method === 'string' ? e.method : 'unknown' });
  };

  private async read<T>(fn: (s: MetricsSources) => Promise<T>): Promise<T | undefined> {
    const s = this.sources;
    if (!s || s.redis.status !== 'ready') return undefined;
    return withTimeout(fn(s).catch(() => undefined), SCRAPE_DEADLINE_MS);
  }
}
