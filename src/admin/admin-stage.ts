/**
 * The admin API as one lifecycle stage of the instance. Created before the supervisor so the
 * sessions get the tapped audit logger (metrics count its events); started last, when the
 * registry, the control plane and the lease exist; stopped first, so no kill arrives during
 * shutdown.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ControlClient } from '../control-client.js';
import type { Logger } from '../logger.js';
import { AdminAuth } from './admin-auth.js';
import type { AdminConfig } from './admin-config.js';
import { AdminMetrics, type MetricsSources } from './admin-metrics.js';
import { buildAdminApp } from './admin-server.js';
import { tapAudit } from './audit-tap.js';
import { EventHub } from './event-hub.js';
import type { RecordingsConfig } from './recording-source.js';

export class AdminStage {
  readonly name = 'admin';
  readonly metrics = new AdminMetrics();
  /** The audit logger sessions should use (counts auth failures and session ends). */
  readonly audit: Logger;
  private app: FastifyInstance | undefined;
  private control: ControlClient | undefined;
  address: string | undefined;
  private events: EventHub | undefined;

  constructor(
    private readonly cfg: AdminConfig,
    private readonly recordings: RecordingsConfig,
    audit: Logger,
    private readonly log: Logger,
    private readonly sources: () => MetricsSources,
  ) {
    this.audit = tapAudit(audit, this.metrics.onAudit);
  }

  async start(): Promise<void> {
    const s = this.sources();
    this.metrics.attach(s);
    this.control = new ControlClient(s.redis, s.registry, s.registry.keys);
    const auth = new AdminAuth(this.cfg);
    const log = this.log.child({ component: 'admin' });
    const events = new EventHub(s.redis, s.registry.keys, { maxStreams: this.cfg.eventStreams, heartbeatMs: this.cfg.eventsHeartbeat }, log);
    this.events = events;
    const app = buildAdminApp(
      { ...s, cfg: this.cfg, control: this.control, auth, metrics: this.metrics, audit: this.audit, recordings: this.recordings, events, listening: () => app.server.listening },
      log,
      this.cfg.tls,
    );
    this.app = app;
    this.address = await app.listen({ host: this.cfg.listen.host, port: this.cfg.listen.port });
    this.log.info({ address: this.address }, 'admin API listening');
    // Other instances fetch this one's recordings through it (recording-proxy.ts).
    await s.instances.advertise(s.id, { adminUrl: this.url ?? '' });
  }

  /** Where other instances reach this admin API (registered with the heartbeat). */
  get url(): string | undefined {
    return this.cfg.advertise ?? this.address;
  }

  async stop(): Promise<void> {
    this.events?.close();
    await this.app?.close();
    await this.control?.close();
  }
}

/** The stage when the config has an `admin:` section, else undefined. */
export function adminStage(cfg: Config, audit: Logger, log: Logger, sources: () => MetricsSources): AdminStage | undefined {
  return cfg.admin ? new AdminStage(cfg.admin, { dataDir: cfg.dataDir, recording: cfg.recording }, audit, log, sources) : undefined;
}
