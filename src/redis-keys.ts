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
  /** The fleet's file-transfer log (sftp/scp operations): a bounded stream. */
  get transfers(): string {
    return `${this.tag}:transfers`;
  }
  /** The fleet's audit events (a bounded stream; the JSONL file of each instance stays the full copy). */
  get auditEvents(): string {
    return `${this.tag}:audit`;
  }
  /** Pub/sub channel of fleet events (session opened/state/ended, kill acknowledged, instance up/lost). */
  get events(): string {
    return `${this.tag}:events`;
  }
  /** Random secret instances sign admin requests to each other with (recording proxy). */
  get fleetSecret(): string {
    return `${this.tag}:fleet-secret`;
  }
  /** Counters (kills, idle warnings, ...), one hash. */
  get counters(): string {
    return `${this.tag}:counters`;
  }
  /** Watchers of one session: a sorted set of watcher descriptions scored by expiry (ms). */
  watchers(sessionId: string): string {
    return `${this.tag}:watch:${sessionId}:watchers`;
  }
  /** Pub/sub channel the owner publishes a watched session's screen on (only while watched). */
  watchStream(sessionId: string): string {
    return `${this.tag}:watch:${sessionId}:stream`;
  }
  /** Pub/sub channel an instance listens on for "this session's watchers changed". */
  watchControl(instanceId: string): string {
    return `${this.tag}:watchctl:${instanceId}`;
  }
  /** Pub/sub channel an instance takes kill requests on (the fast path of `warden kill`). */
  killRequests(instanceId: string): string {
    return `${this.tag}:killctl:${instanceId}`;
  }
  /** Pub/sub channel one kill client (a CLI run, an admin API process) takes acknowledgements on. */
  killReplies(clientId: string): string {
    return `${this.tag}:killack:${clientId}`;
  }
  /**
   * BullMQ prefix. BullMQ builds its keys as `<prefix>:<queue>:...` and its scripts touch several
   * of them at once, so the hash tag must be inside the prefix (CROSSSLOT on Cluster otherwise).
   */
  get bullPrefix(): string {
    return `${this.tag}:bull`;
  }
  /** Where queues lived before the prefix carried the tag; read once at start to move leftovers. */
  get legacyBullPrefix(): string {
    return `${this.prefix}:bull`;
  }
  controlQueue(instanceId: string): string {
    return `ctl-${instanceId}`;
  }
}
