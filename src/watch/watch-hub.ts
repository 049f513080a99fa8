/**
 * Live watch on the owning instance. Sessions register here; nothing is published for them
 * until a watcher appears in Redis (watch-presence.ts). The hub learns of watchers from a ping
 * on its watch-control channel (join, leave) and, while any session is watched, from a poll
 * every POLL_MS (a crashed watcher's entry expires). It then attaches a SessionWatch to the
 * session, sends each new watcher the current screen, tells the user (watch.notifyUser) and
 * writes `watch_start` / `watch_stop` audit events; when the last watcher is gone it detaches,
 * and the session is back to no Redis traffic at all.
 */
import type { Logger } from '../logger.js';
import { duplicateBlocking, type RedisClient } from '../redis-connection.js';
import type { RedisKeys } from '../redis-keys.js';
import { SessionWatch, type Watchable } from './session-watch.js';
import { WatchPresence, type WatcherInfo } from './watch-presence.js';

const POLL_MS = 1_000;

interface Watched {
  watch: SessionWatch;
  watchers: Map<string, WatcherInfo>;
}

export interface WatchHubOptions {
  instanceId: string;
  keys: RedisKeys;
  /** Commands (presence reads). */
  redis: RedisClient;
  /** Two more connections: pub/sub needs its own, and batches must not queue behind registry writes. */
  subscriber: RedisClient;
  publisher: RedisClient;
  notifyUser: boolean;
  audit: Logger;
  log: Logger;
}

export class WatchHub {
  private readonly sessions = new Map<string, Watchable>();
  private readonly watched = new Map<string, Watched>();
  /** One refresh at a time per session: pings and polls may overlap. */
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly presence: WatchPresence;
  private poll?: NodeJS.Timeout;

  constructor(private readonly o: WatchHubOptions) {
    this.presence = new WatchPresence(o.redis, o.keys);
  }

  async start(): Promise<void> {
    this.o.subscriber.on('message', (_channel: string, sessionId: string) => this.refresh(sessionId));
    await this.o.subscriber.subscribe(this.o.keys.watchControl(this.o.instanceId));
    this.poll = setInterval(() => {
      for (const id of this.watched.keys()) this.refresh(id);
    }, POLL_MS);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.poll);
    for (const [id] of this.watched) this.unregister(id, 'Warden is shutting down');
    this.o.subscriber.disconnect();
    this.o.publisher.disconnect();
  }

  register(sessionId: string, target: Watchable): void {
    this.sessions.set(sessionId, target);
  }

  /** The session ended: watchers get the reason, the audit log their stop. */
  unregister(sessionId: string, reason: string): void {
    const target = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    const w = this.watched.get(sessionId);
    if (!w || !target) return;
    w.watch.end(`session ended: ${reason}`);
    for (const watcher of w.watchers.values()) this.stopped(sessionId, watcher, 'session_ended');
    this.detach(sessionId, target);
  }

  /** Watched sessions and their watchers (tests, metrics). */
  watchers(sessionId: string): number {
    return this.watched.get(sessionId)?.watchers.size ?? 0;
  }

  private refresh(sessionId: string): void {
    if (!this.sessions.has(sessionId)) return;
    const prev = this.refreshing.get(sessionId) ?? Promise.resolve();
    const next = prev
      .then(() => this.reconcile(sessionId))
      .catch((err: Error) => this.o.log.warn({ err, session: sessionId }, 'watch: cannot read the watchers'))
      .finally(() => {
        if (this.refreshing.get(sessionId) === next) this.refreshing.delete(sessionId);
      });
    this.refreshing.set(sessionId, next);
  }

  private async reconcile(sessionId: string): Promise<void> {
    const now = await this.presence.current(sessionId);
    const target = this.sessions.get(sessionId);
    if (!target) return;
    let w = this.watched.get(sessionId);
    if (!w && now.length === 0) return;
    if (!w) {
      const watch = new SessionWatch(target, (frame) => this.o.publisher.publish(this.o.keys.watchStream(sessionId), frame), this.o.log.child({ session: sessionId }));
      w = { watch, watchers: new Map() };
      this.watched.set(sessionId, w);
      target.watch = watch;
    }
    const ids = new Set(now.map((x) => x.id));
    for (const [id, watcher] of w.watchers) {
      if (ids.has(id)) continue;
      w.watchers.delete(id);
      this.stopped(sessionId, watcher, 'left');
    }
    for (const watcher of now) {
      if (w.watchers.has(watcher.id)) continue;
      w.watchers.set(watcher.id, watcher);
      void w.watch.screen(watcher.id);
      this.o.audit.info({ event: 'watch_start', session: sessionId, admin: watcher.who, via: watcher.via, remote: watcher.from, watcher: watcher.id, instance: this.o.instanceId }, 'admin started watching a session');
      this.tell(w, `[warden] ${watcher.who} started watching this session (read-only)`);
    }
    if (w.watchers.size === 0) this.detach(sessionId, target);
  }

  private stopped(sessionId: string, watcher: WatcherInfo, why: 'left' | 'session_ended'): void {
    this.o.audit.info({ event: 'watch_stop', session: sessionId, admin: watcher.who, via: watcher.via, remote: watcher.from, watcher: watcher.id, instance: this.o.instanceId, why }, 'admin stopped watching a session');
    const w = this.watched.get(sessionId);
    if (w && why === 'left') this.tell(w, `[warden] ${watcher.who} stopped watching this session`);
  }

  private tell(w: Watched, line: string): void {
    if (this.o.notifyUser) w.watch.channel?.say(`\r\n${line}\r\n`);
  }

  private detach(sessionId: string, target: Watchable): void {
    const w = this.watched.get(sessionId);
    this.watched.delete(sessionId);
    if (w && target.watch === w.watch) target.watch = undefined;
    w?.watch.close();
    if (w && w.watch.dropped) this.o.log.info({ session: sessionId, dropped: w.watch.dropped }, 'watch: output was dropped and resynced');
  }
}

/** The hub of an instance, with its own subscriber and publisher connections. */
export async function startWatchHub(o: Omit<WatchHubOptions, 'subscriber' | 'publisher'>): Promise<WatchHub> {
  const [subscriber, publisher] = [duplicateBlocking(o.redis), duplicateBlocking(o.redis)];
  for (const r of [subscriber, publisher]) r.on('error', (err: Error) => o.log.debug({ err }, 'redis error (watch)'));
  const hub = new WatchHub({ ...o, subscriber, publisher });
  await hub.start();
  return hub;
}
