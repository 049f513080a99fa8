/** What the admin API's routes need from the running instance, in one place. */
import type { RedisClient as Redis } from '../redis-connection.js';
import type { ControlClient } from '../control-client.js';
import type { Counters } from '../counters.js';
import type { InstanceRegistry } from '../instance-registry.js';
import type { Logger } from '../logger.js';
import type { Registry } from '../registry.js';
import type { AdminAuth, Principal } from './admin-auth.js';
import type { AdminConfig } from './admin-config.js';
import type { AdminMetrics } from './admin-metrics.js';
import type { EventHub } from './event-hub.js';
import type { RecordingsConfig } from './recording-source.js';

export interface AdminContext {
  id: string;
  cfg: AdminConfig;
  redis: Redis;
  registry: Registry;
  instances: InstanceRegistry;
  /** The fleet's counters of control events (kills, idle timeouts, reaped sessions). */
  counters: Counters;
  control: ControlClient;
  auth: AdminAuth;
  metrics: AdminMetrics;
  audit: Logger;
  /** Where this instance's recordings are (served to admins and to other instances). */
  recordings: RecordingsConfig;
  /** Server-Sent Events streams of this instance. */
  events: EventHub;
  /** True once the admin listener accepts connections (readiness). */
  listening(): boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /api route but login. */
    principal?: Principal;
  }
}

/** The principal of an authenticated route (the hook guarantees one). */
export function principalOf(req: { principal?: Principal }): Principal {
  if (!req.principal) throw new Error('route reached without authentication');
  return req.principal;
}
