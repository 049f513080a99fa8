/**
 * The session registry in Redis: one `proxy_log` hash per session, live sets (fleet-wide and
 * per instance) and a bounded history. Writes go through the atomic scripts in
 * registry-scripts.ts; reads are plain commands.
 *
 * Nothing here is on the data path: callers fire writes and move on.
 */
import type { RedisClient } from './redis-connection.js';
import type { EndReason, SessionState } from '../machines/session.types.js';
import { WardenError } from './errors.js';
import { normaliseIdPrefix, SESSION_ID_LENGTH } from './id-prefix.js';
import { ACQUIRE_LOCK, ATTACH_TO_SESSION, FINISH_SESSION, OPEN_SESSION, REAP_INSTANCE, UPDATE_SESSION } from './registry-scripts.js';
import type { RedisKeys } from './redis-keys.js';
import { decodeRecord, encodeRecord, recordingField, type RecordingRef, type SessionRecord } from './session-record.js';

export type { SessionKind, SessionRecord } from './session-record.js';

interface RegistryCommands {
  wardenOpen(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  wardenUpdate(k1: string, ...argv: string[]): Promise<number>;
  wardenFinish(k1: string, k2: string, k3: string, k4: string, ...argv: string[]): Promise<number>;
  wardenReap(k1: string, k2: string, k3: string, k4: string, ...argv: string[]): Promise<string[]>;
  wardenLock(k1: string, owner: string, ttl: string): Promise<number>;
  wardenAttach(k1: string, ...argv: string[]): Promise<number>;
}

export function defineRegistryCommands(redis: RedisClient): RedisClient & RegistryCommands {
  const r = redis as RedisClient & Partial<RegistryCommands>;
  if (!r.wardenOpen) {
    redis.defineCommand('wardenOpen', { numberOfKeys: 3, lua: OPEN_SESSION });
    redis.defineCommand('wardenUpdate', { numberOfKeys: 1, lua: UPDATE_SESSION });
    redis.defineCommand('wardenFinish', { numberOfKeys: 4, lua: FINISH_SESSION });
    redis.defineCommand('wardenReap', { numberOfKeys: 4, lua: REAP_INSTANCE });
    redis.defineCommand('wardenLock', { numberOfKeys: 1, lua: ACQUIRE_LOCK });
    redis.defineCommand('wardenAttach', { numberOfKeys: 1, lua: ATTACH_TO_SESSION });
  }
  return redis as RedisClient & RegistryCommands;
}

export interface RegistryOptions {
  retentionMs: number;
  historyMax: number;
  /** Told of every change this registry applies to a record's state (fleet events). */
  listener?: RegistryListener;
}

export interface RegistryListener {
  stateChanged(id: string, fields: Partial<SessionRecord>): void;
  finished(rec: SessionRecord & { reason: EndReason }): void;
}

const notFound = (prefix: string) => new WardenError('SESSION_NOT_FOUND', `"${prefix}" (see \`warden sessions --all\`)`);

export class Registry {
  /** The connection this registry uses (CLIs share it with the control client). */
  readonly redis: RedisClient & RegistryCommands;

  constructor(
    redis: RedisClient,
    readonly keys: RedisKeys,
    private readonly opts: RegistryOptions,
  ) {
    this.redis = defineRegistryCommands(redis);
  }

  /** Create (or re-assert) a live record. False if it already finished. */
  async open(rec: SessionRecord): Promise<boolean> {
    const k = this.keys;
    const res = await this.redis.wardenOpen(k.session(rec.id), k.live, k.instanceSessions(rec.instance), rec.id, ...encodeRecord(rec));
    return res === 1;
  }

  /** Update fields of a live record. False if missing or finished. */
  async update(id: string, fields: Partial<SessionRecord>): Promise<boolean> {
    const applied = (await this.redis.wardenUpdate(this.keys.session(id), ...encodeRecord(fields))) === 1;
    if (applied && fields.state) this.opts.listener?.stateChanged(id, fields);
    return applied;
  }

  /**
   * Finalise a record. The full record is written too, so a record lost with Redis data is
   * rebuilt complete. The finish time is the record's own (when the session ended), however
   * late this runs. False if it had already finished.
   */
  async finish(rec: SessionRecord & { reason: EndReason }, finishAt = rec.finish ?? Date.now()): Promise<boolean> {
    const k = this.keys;
    const { state: _state, finish: _finish, ...fields } = rec;
    const res = await this.redis.wardenFinish(
      k.session(rec.id),
      k.live,
      k.instanceSessions(rec.instance),
      k.history,
      rec.id,
      String(finishAt),
      String(this.opts.retentionMs),
      String(this.opts.historyMax),
      k.sessionPrefix,
      ...encodeRecord(fields),
    );
    if (res === 1) this.opts.listener?.finished(rec);
    return res === 1;
  }

  /** Attach a channel's finalised recording to its record, finished or not. */
  async attachRecording(id: string, channel: number, ref: RecordingRef): Promise<boolean> {
    return (await this.redis.wardenAttach(this.keys.session(id), recordingField(channel), JSON.stringify(ref))) === 1;
  }

  /**
   * Finalise every live session of an instance whose lease expired (reason instance_lost).
   * With `force`, also when the lease still exists: used by an instance clearing what its
   * previous process (same configured id) left behind.
   */
  async reapInstance(instanceId: string, opts: { force?: boolean; now?: number } = {}): Promise<string[]> {
    const k = this.keys;
    return this.redis.wardenReap(
      k.instanceSessions(instanceId),
      k.live,
      k.history,
      k.lease(instanceId),
      String(opts.now ?? Date.now()),
      String(this.opts.retentionMs),
      String(this.opts.historyMax),
      k.sessionPrefix,
      'instance_lost',
      opts.force ? 'force' : '',
    );
  }

  /** Take or renew a lock for `owner` (the fleet's one reaper). */
  async acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.wardenLock(key, owner, String(ttlMs))) === 1;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return decodeRecord(await this.redis.hgetall(this.keys.session(id)));
  }

  private async getMany(ids: string[]): Promise<SessionRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.session(id));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => decodeRecord(h as Record<string, string>)).filter((r): r is SessionRecord => r !== undefined);
  }

  async liveIds(instanceId?: string): Promise<string[]> {
    return this.redis.smembers(instanceId ? this.keys.instanceSessions(instanceId) : this.keys.live);
  }

  /** Live sessions, oldest first (ULIDs sort by time). */
  async listLive(instanceId?: string): Promise<SessionRecord[]> {
    return this.getMany((await this.liveIds(instanceId)).sort());
  }

  /** Most recently finished sessions, newest first. */
  async listRecent(limit = 100): Promise<SessionRecord[]> {
    return this.getMany(await this.redis.zrevrange(this.keys.history, 0, limit - 1));
  }

  /** Resolve a unique id prefix (docker-style) against live and finished sessions. */
  async resolve(prefix: string): Promise<string> {
    const want = normaliseIdPrefix(prefix);
    if (!want) throw new WardenError('SESSION_NOT_FOUND', 'empty id');
    // A whole id is looked up, not matched against every id kept (up to historyMax of them,
    // which a cold `warden kill` would otherwise fetch and parse).
    if (want.length === SESSION_ID_LENGTH) {
      const [isLive, finishedAt] = await Promise.all([this.redis.sismember(this.keys.live, want), this.redis.zscore(this.keys.history, want)]);
      if (isLive || finishedAt !== null) return want;
      throw notFound(prefix);
    }
    const [live, finished] = await Promise.all([
      this.redis.smembers(this.keys.live),
      this.redis.zrange(this.keys.history, 0, -1),
    ]);
    const hits = [...new Set([...live, ...finished])].filter((id) => id.startsWith(want));
    if (hits.length === 0) throw notFound(prefix);
    if (hits.length > 1) throw new WardenError('SESSION_AMBIGUOUS', `"${prefix}" matches ${hits.slice(0, 5).join(', ')}${hits.length > 5 ? ', …' : ''}`);
    return hits[0]!;
  }
}
