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
import type { Registry } from './registry.js';
import { Session, type SessionDeps } from './session.js';

export class Supervisor {
  private readonly sessions = new Map<string, Session>();
  private readonly persisting = new Set<Promise<void>>();
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly deps: Omit<SessionDeps, 'onFinished'>,
    private readonly log: Logger,
  ) {}

  spawn(client: Connection, remote: string): Session {
    const session = new Session(client, remote, {
      ...this.deps,
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

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Write activity and byte counters of sessions that changed, in one pipeline. */
  startActivityFlush(registry: Registry, everyMs: number): void {
    this.flushTimer = setInterval(() => {
      const changed = [...this.sessions.values()].filter((s) => s.dirty);
      if (changed.length === 0) return;
      for (const s of changed) {
        s.dirty = false;
        s.record.lastActivity = s.lastInputAt;
        const { lastActivity, bytesIn, bytesOut, kind, command } = s.record;
        void registry.update(s.id, { lastActivity, bytesIn, bytesOut, kind, command }).catch(() => (s.dirty = true));
      }
    }, everyMs);
    this.flushTimer.unref();
  }

  /** End every session (shutdown) and wait, bounded, until their records are final. */
  async endAll(end: SessionEnd, waitMs = 5_000): Promise<void> {
    clearInterval(this.flushTimer);
    for (const s of [...this.sessions.values()]) s.end(end);
    const pending = [...this.persisting];
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([Promise.all(pending), timeout]);
    clearTimeout(timer);
    if (this.persisting.size) this.log.warn({ pending: this.persisting.size }, 'some session records were not finalised before exit');
  }
}
