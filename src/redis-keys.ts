/**
 * The one place Redis key names are built (BullMQ's QueueKeys is the model).
 *
 * Every registry key carries the same hash tag `{prefix}`, so the scripts that touch a
 * session, the live sets and the history together stay in one slot on Redis Cluster.
 */
export class RedisKeys {
  readonly tag: string;

  constructor(readonly prefix: string) {
    this.tag = `{${prefix}}`;
  }

  session(id: string): string {
    return `${this.tag}:session:${id}`;
  }
  /** Prefix of session hashes, for scripts that delete trimmed history entries. */
  get sessionPrefix(): string {
    return `${this.tag}:session:`;
  }
  /** Ids of all live sessions, fleet-wide. */
  get live(): string {
    return `${this.tag}:live`;
  }
  /** Ids of the live sessions owned by one instance. */
  instanceSessions(instanceId: string): string {
    return `${this.tag}:instance:${instanceId}:sessions`;
  }
  /** Finished session ids scored by finish time (ms); bounded and trimmed by retention. */
  get history(): string {
    return `${this.tag}:history`;
  }
  /** Instance records: hash per instance. */
  instance(instanceId: string): string {
    return `${this.tag}:instance:${instanceId}`;
  }
  /** Known instances scored by last heartbeat (ms). */
  get instances(): string {
    return `${this.tag}:instances`;
  }
  /** Lease of an instance: exists while the instance heartbeats. */
  lease(instanceId: string): string {
    return `${this.tag}:lease:${instanceId}`;
  }
  /** Lock held by the one reaper acting across the fleet. */
  get reaperLock(): string {
    return `${this.tag}:reaper`;
  }
  /** Trust-on-first-use host keys: asset name → "type base64". */
  get hostKeys(): string {
    return `${this.tag}:hostkeys`;
  }
  /** Failed-auth counter of one source address (shared penalty across instances). */
  authFailures(source: string): string {
    return `${this.tag}:authfail:${source}`;
  }
  /** The fleet's command log: a bounded stream. */
  get commands(): string {
    return `${this.tag}:commands`;
  }
  /** Counters (kills, idle warnings, ...), one hash. */
  get counters(): string {
    return `${this.tag}:counters`;
  }
  /** BullMQ prefix: BullMQ builds its keys from it, so the hash tag must be inside it or its
   *  multi-key scripts fail with CROSSSLOT on Redis Cluster. */
  get bullPrefix(): string {
    return `${this.tag}:bull`;
  }
  controlQueue(instanceId: string): string {
    return `ctl-${instanceId}`;
  }
}
