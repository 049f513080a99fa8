/**
 * The watcher's side, shared by `warden watch` and the admin API's WebSocket: straight
 * against Redis, so it works from any instance (or a CLI with no admin listener) for a
 * session on any instance. Subscribe to the session's watch stream first (so the screen is
 * not missed), then announce the watcher (watch-presence.ts); the owner answers with the
 * current screen, then live output and resizes. Output published before our screen is
 * skipped: the screen already contains it.
 *
 * Read-only by construction: nothing here can reach the session's input.
 */
import { randomBytes } from 'node:crypto';
import { WardenError } from '../errors.js';
import { InstanceRegistry } from '../instance-registry.js';
import { duplicateBlocking, type RedisClient } from '../redis-connection.js';
import type { Registry } from '../registry.js';
import { decodeFrame, EVERYONE } from './watch-frames.js';
import { WATCH_HEARTBEAT_MS, WatchPresence, type WatcherInfo } from './watch-presence.js';

const FIRST_SCREEN_TIMEOUT_MS = 5_000;

export interface WatchSink {
  screen(cols: number, rows: number, data: Buffer): void;
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
}

export interface WatchHandle {
  sessionId: string;
  /** Resolves with why the watch ended (session over, owner gone, dropped...). */
  ended: Promise<string>;
  /** Leave: remove the watcher and unsubscribe. Idempotent. */
  stop(reason?: string): Promise<void>;
}

export interface WatchRequest {
  registry: Registry;
  /** A full session id (resolve prefixes with Registry.resolve first). */
  sessionId: string;
  who: string;
  via: WatcherInfo['via'];
  from: string;
  sink: WatchSink;
}

export async function startWatch(req: WatchRequest): Promise<WatchHandle> {
  const { registry, sessionId, sink } = req;
  const redis: RedisClient = registry.redis;
  const keys = registry.keys;
  const rec = await registry.get(sessionId);
  if (!rec) throw new WardenError('SESSION_NOT_FOUND', `"${sessionId}" has expired from the registry`);
  if (rec.state === 'finished') throw new WardenError('SESSION_NOT_LIVE', `${sessionId} ended (${rec.reason ?? 'unknown reason'})`);
  const instances = new InstanceRegistry(redis, keys);
  if (!(await instances.alive(rec.instance))) throw new WardenError('SESSION_NOT_LIVE', `its instance ${rec.instance} is gone (lease expired)`);

  const presence = new WatchPresence(redis, keys);
  const watcher: WatcherInfo = { id: randomBytes(9).toString('base64url'), who: req.who, via: req.via, from: req.from };
  const sub = duplicateBlocking(redis);
  sub.on('error', () => {});
  let finish!: (why: string) => void;
  const ended = new Promise<string>((resolve) => (finish = resolve));
  let gotScreen!: () => void;
  const screened = new Promise<void>((resolve) => (gotScreen = resolve));
  let shown = false;
  let over = false;
  let beat: NodeJS.Timeout | undefined;

  const stop = async (reason = 'left'): Promise<void> => {
    if (over) return;
    over = true;
    clearInterval(beat);
    finish(reason);
    await presence.leave(sessionId, watcher, rec.instance).catch(() => {});
    sub.disconnect();
  };

  sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    const f = decodeFrame(message);
    if (!f || over) return;
    if (f.type === 'screen') {
      if (shown && f.for !== EVERYONE) return;
      if (!shown && f.for !== EVERYONE && f.for !== watcher.id) return;
      shown = true;
      gotScreen();
      sink.screen(f.cols, f.rows, f.data);
    } else if (!shown) {
      if (f.type === 'end') void stop(f.reason);
    } else if (f.type === 'output') sink.output(f.data);
    else if (f.type === 'resize') sink.resize(f.cols, f.rows);
    else void stop(f.reason);
  });
  // Redis drops a subscriber that cannot keep up (client-output-buffer-limit pubsub); a
  // resubscribed stream would have a hole in it, so the watch ends instead.
  sub.on('close', () => void stop('dropped: the watch stream was cut (too slow, or Redis went away)'));

  try {
    await sub.subscribe(keys.watchStream(sessionId));
    await presence.beat(sessionId, watcher, rec.instance);
    const timedOut = new Promise<'timeout'>((resolve) => setTimeout(resolve, FIRST_SCREEN_TIMEOUT_MS, 'timeout').unref());
    if ((await Promise.race([screened, ended, timedOut])) === 'timeout') {
      throw new WardenError('WATCH_NO_ANSWER', `${rec.instance} sent no screen within ${FIRST_SCREEN_TIMEOUT_MS / 1000} s`);
    }
  } catch (err) {
    await stop('failed');
    throw err;
  }

  beat = setInterval(() => {
    void presence.beat(sessionId, watcher).catch(() => {});
    // The owner may die without a last word: its sessions are then reaped in the registry.
    void registry.get(sessionId).then(
      (r) => {
        if (!r || r.state === 'finished') void stop(`session ended${r?.reason ? `: ${r.reason}` : ''}`);
      },
      () => {},
    );
  }, WATCH_HEARTBEAT_MS);
  beat.unref();
  return { sessionId, ended, stop };
}
