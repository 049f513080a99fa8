/**
 * The root supervisor: an XState actor that owns every live session of this instance.
 *
 * Everything reaches sessions through its events: the front door sends CONNECTION, the
 * control plane KILL and CHECK, the instance FLUSH, REASSERT, SHUTDOWN; sessions report
 * ENDED. Requests that need an answer carry a `reply` callback (the actor model's "from"),
 * which `SupervisorHandle` turns into promises.
 *
 * Sessions are kept in a Map inside a callback actor rather than as `spawnChild` children of
 * a root machine: XState copies the children map on every spawn (O(n) per session), fails the
 * root on a duplicate system id, and keeps finished children in the snapshot until stopped.
 * Here starting and removing a session are O(1), a session's failure is contained by its own
 * error subscription, and a failing handler is logged instead of stopping the supervisor.
 */
import type { Connection } from 'ssh2';
import { createActor, fromCallback, type ActorRefFrom } from 'xstate';
import type { SessionEnd } from '../machines/session.types.js';
import type { Journal } from './journal.js';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';
import { Session, type SessionDeps, type SessionEnded } from './session.js';
import { withTimeout } from './timeout.js';
import { endMessage } from './errors.js';
import type { WatchHub } from './watch/watch-hub.js';

export type KillAnswer = { outcome: 'killed' } | { outcome: 'absent' };
export interface ReassertResult {
  reasserted: number;
  ended: number;
}

export type SupervisorEvent =
  | { type: 'CONNECTION'; client: Connection; remote: string }
  | { type: 'KILL'; sessionId: string; end: SessionEnd; reply(answer: Promise<KillAnswer>): void }
  | { type: 'CHECK'; kind: 'idle' | 'duration'; sessionId: string; now: number }
  | { type: 'FLUSH' }
  | { type: 'REASSERT'; reply(result: Promise<ReassertResult>): void }
  | { type: 'SHUTDOWN'; end: SessionEnd; waitMs: number; reply(done: Promise<void>): void }
  | { type: 'COUNT'; reply(live: number): void }
  | { type: 'ENDED'; ended: SessionEnded };

export interface SupervisorInput {
  deps: SessionDeps;
  registry: Registry;
  log: Logger;
  /** Final records Redis did not take wait there (src/journal.ts); it writes them when Redis is back. */
  journal: Pick<Journal, 'hold' | 'track'>;
  /** Live watch (src/watch): publishes a session's terminal only while an admin watches it. */
  watchHub?: WatchHub;
}

const supervisorLogic = fromCallback<SupervisorEvent, SupervisorInput>(({ input, receive, self }) => {
  const { deps, registry, log, journal, watchHub } = input;
  const sessions = new Map<string, Session>();
  const persisting = new Set<Promise<unknown>>();
  /** Kills waiting for a session's record to be final. */
  const waiters = new Map<string, Array<() => void>>();

  const handlers: { [K in SupervisorEvent['type']]: (e: Extract<SupervisorEvent, { type: K }>) => void } = {
    CONNECTION: ({ client, remote }) => {
      const session = new Session(client, remote, deps, (ended) => self.send({ type: 'ENDED', ended }));
      sessions.set(session.id, session);
      watchHub?.register(session.id, session.channels);
      session.start();
    },
    ENDED: ({ ended }) => {
      const id = ended.session.id;
      sessions.delete(id);
      watchHub?.unregister(id, endMessage(ended.final));
      const p = ended.persisted.then((ok) => {
        if (!ok) journal.hold({ kind: 'final', record: ended.final });
      });
      journal.track({ kind: 'final', record: ended.final }, p, { holdOnFailure: false });
      persisting.add(p);
      void p.finally(() => {
        persisting.delete(p);
        for (const resolve of waiters.get(id) ?? []) resolve();
        waiters.delete(id);
      });
    },
    KILL: ({ sessionId, end, reply }) => {
      const session = sessions.get(sessionId);
      if (!session) return reply(Promise.resolve({ outcome: 'absent' }));
      const done = new Promise<void>((resolve) => waiters.set(sessionId, [...(waiters.get(sessionId) ?? []), resolve]));
      session.send({ type: 'END', ...end });
      reply(done.then(() => ({ outcome: 'killed' as const })));
    },
    CHECK: ({ kind, sessionId, now }) => sessions.get(sessionId)?.check(kind, now),
    FLUSH: () => {
      for (const s of sessions.values()) {
        const changes = s.takeChanges();
        if (changes) void registry.update(s.id, changes).catch(() => {});
      }
    },
    REASSERT: ({ reply }) => reply(reassert()),
    SHUTDOWN: ({ end, waitMs, reply }) => {
      // Sessions report ENDED as a message to this actor, i.e. after this handler: wait for
      // each one's record (as KILL does), or Redis is closed before they are written.
      const ended = [...sessions.keys()].map((id) => new Promise<void>((resolve) => waiters.set(id, [...(waiters.get(id) ?? []), resolve])));
      for (const s of [...sessions.values()]) s.send({ type: 'END', ...end });
      reply(withTimeout(Promise.all(ended), waitMs).then(() => shutdown(waitMs)));
    },
    COUNT: ({ reply }) => reply(sessions.size),
  };

  /**
   * After Redis comes back (or lost data): re-assert every live session (final records that
   * waited are written by the journal). A session the registry already holds as finished
   * (another instance reaped us meanwhile) is ended, so registry and reality agree again.
   */
  async function reassert(): Promise<ReassertResult> {
    const result = { reasserted: 0, ended: 0 };
    for (const s of [...sessions.values()]) {
      const rec = s.current();
      if (rec.state === 'finished') continue;
      if (await registry.open(rec)) result.reasserted++;
      else {
        result.ended++;
        s.send({ type: 'END', reason: 'instance_lost', detail: 'this Warden instance lost its lease while Redis was unreachable' });
      }
    }
    return result;
  }

  async function shutdown(waitMs: number): Promise<void> {
    const pending = [...persisting];
    if (pending.length) await withTimeout(Promise.all(pending), waitMs);
    if (persisting.size) log.warn({ pending: persisting.size }, 'some session records were not finalised before exit');
  }

  receive((event) => {
    try {
      (handlers[event.type] as (e: SupervisorEvent) => void)(event);
    } catch (err) {
      log.error({ err, event: event.type }, 'supervisor handler failed');
    }
  });
});

export type SupervisorRef = ActorRefFrom<typeof supervisorLogic>;

/** The supervisor actor plus promise-returning helpers for the requests that have answers. */
export class SupervisorHandle {
  readonly ref: SupervisorRef;
  private flushTimer?: NodeJS.Timeout;

  constructor(input: SupervisorInput) {
    this.ref = createActor(supervisorLogic, { input });
    this.ref.start();
  }

  connection(client: Connection, remote: string): void {
    this.ref.send({ type: 'CONNECTION', client, remote });
  }

  check(kind: 'idle' | 'duration', sessionId: string, now = Date.now()): void {
    this.ref.send({ type: 'CHECK', kind, sessionId, now });
  }

  kill(sessionId: string, end: SessionEnd): Promise<KillAnswer> {
    return this.ask<KillAnswer>((reply) => ({ type: 'KILL', sessionId, end, reply }));
  }

  reassert(): Promise<ReassertResult> {
    return this.ask<ReassertResult>((reply) => ({ type: 'REASSERT', reply }));
  }

  count(): Promise<number> {
    return new Promise((resolve) => this.ref.send({ type: 'COUNT', reply: resolve }));
  }

  /** Write activity and byte counters of sessions that changed, every `everyMs`. */
  startActivityFlush(everyMs: number): void {
    this.flushTimer = setInterval(() => this.ref.send({ type: 'FLUSH' }), everyMs);
    this.flushTimer.unref();
  }

  /** End every session and wait, bounded, until their records are final. */
  async shutdown(end: SessionEnd, waitMs = 5_000): Promise<void> {
    clearInterval(this.flushTimer);
    await this.ask<void>((reply) => ({ type: 'SHUTDOWN', end, waitMs, reply }));
    this.ref.stop();
  }

  private ask<T>(make: (reply: (answer: Promise<T>) => void) => SupervisorEvent): Promise<T> {
    return new Promise<T>((resolve, reject) => this.ref.send(make((answer) => answer.then(resolve, reject))));
  }
}
