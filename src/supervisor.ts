/**
 * The root supervisor: owns every live session actor of this instance.
 *
 * Sessions are kept in a Map rather than as `spawnChild` children of a root machine: XState
 * copies the children map on every spawn (O(n) per session), rejects duplicate system ids by
 * failing the root, and keeps finished children in the snapshot until stopped. Here starting
 * and removing a session are O(1), a session's failure is contained by its own error
 * subscription, and a finished session is dropped the moment its `finalise` runs.
 */
import type { Connection } from 'ssh2';
import type { SessionEnd } from '../machines/session.types.js';
import type { Logger } from './logger.js';
import type { EndReason } from '../machines/session.types.js';
import type { Registry, SessionRecord } from './registry.js';
import { Session, type SessionDeps } from './session.js';
import { withTimeout } from './timeout.js';

export class Supervisor {
  private readonly sessions = new Map<string, Session>();
  /** Final records not yet written (Redis was away); written by `reassert`. */
  private readonly unwritten = new Map<string, SessionRecord & { reason: EndReason }>();
  private readonly persisting = new Set<Promise<void>>();
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly deps: Omit<SessionDeps, 'onFinished' | 'persistLater'>,
    private readonly log: Logger,
  ) {}

  spawn(client: Connection, remote: string): Session {
    const session = new Session(client, remote, {
      ...this.deps,
      persistLater: (rec) => this.unwritten.set(rec.id, rec),
      onFinished: (s, persisted) => {
        this.sessions.delete(s.id);
        this.persisting.add(persisted);
        void persisted.finally(() => this.persisting.delete(persisted));
      },
    });
    this.sessions.set(session.id, session);
    session.start();
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** Write activity and byte counters of sessions that changed, in one pipeline. */
  startActivityFlush(registry: Registry, everyMs: number): void {
    this.flushTimer = setInterval(() => {
      const changed = [...this.sessions.values()].filter((s) => s.dirty);
      if (changed.length === 0) return;
      for (const s of changed) {
        s.dirty = false;
        s.record.lastActivity = s.lastActivityAt;
        const { lastActivity, bytesIn, bytesOut, kind, command } = s.record;
        void registry.update(s.id, { lastActivity, bytesIn, bytesOut, kind, command }).catch(() => (s.dirty = true));
      }
    }, everyMs);
    this.flushTimer.unref();
  }

  /**
   * After Redis comes back (or lost data): write the final records that were waiting, and
   * re-assert every live session. A session the registry already holds as finished (another
   * instance reaped us while we could not reach Redis) is ended here too, so the registry
   * and reality agree again.
   */
  async reassert(registry: Registry): Promise<{ reasserted: number; ended: number; written: number }> {
    let written = 0;
    for (const [id, rec] of [...this.unwritten]) {
      await registry.finish(rec);
      this.unwritten.delete(id);
      written++;
    }
    let reasserted = 0;
    let ended = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.record.state === 'finished') continue;
      if (await registry.open({ ...s.record, lastActivity: s.lastActivityAt })) reasserted++;
      else {
        ended++;
        s.end({ reason: 'instance_lost', detail: 'this Warden instance lost its lease while Redis was unreachable' });
      }
    }
    return { reasserted, ended, written };
  }

  /** End every session (shutdown) and wait, bounded, until their records are final. */
  async endAll(end: SessionEnd, waitMs = 5_000): Promise<void> {
    clearInterval(this.flushTimer);
    for (const s of [...this.sessions.values()]) s.end(end);
    const pending = [...this.persisting];
    if (pending.length === 0) return;
    await withTimeout(Promise.all(pending), waitMs);
    if (this.persisting.size) this.log.warn({ pending: this.persisting.size }, 'some session records were not finalised before exit');
  }
}
