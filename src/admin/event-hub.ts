/**
 * Server-Sent Events for consoles: one Redis subscription per instance (opened when the first
 * console connects) fanned out to this instance's event streams. A stream that does not drain
 * (MAX_BUFFERED bytes waiting in its socket) is dropped, never buffered without bound; streams
 * are capped per instance; idle streams get a comment line every `heartbeatMs` so proxies and
 * load balancers do not close them.
 */
import type { ServerResponse } from 'node:http';
import { Cluster } from 'ioredis';
import { WardenError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis-connection.js';
import type { RedisKeys } from '../redis-keys.js';

const MAX_BUFFERED = 256 * 1024;

export class EventHub {
  private sub: RedisClient | undefined;
  private subscribed: Promise<void> | undefined;
  private readonly clients = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;
  private pending = 0;
  /** Streams dropped because they did not drain (for tests and the log). */
  dropped = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly opts: { maxStreams: number; heartbeatMs: number; maxBuffered?: number },
    private readonly log: Logger,
  ) {}

  get streams(): number {
    return this.clients.size;
  }

  /**
   * Hold a place for one more stream and make sure the subscription is live (so the stream
   * misses nothing after its first byte); throws when the cap is reached or Redis is away.
   * Followed by attach() at once.
   */
  async reserve(): Promise<void> {
    if (this.clients.size + this.pending >= this.opts.maxStreams) throw new WardenError('ADMIN_TOO_MANY_STREAMS', `${this.opts.maxStreams} are open`);
    this.pending++;
    try {
      await this.subscribe();
    } catch (err) {
      this.pending--;
      throw new WardenError('REDIS_UNAVAILABLE', `cannot subscribe to fleet events: ${(err as Error).message}`);
    }
  }

  /** The reserved stream, its headers sent. */
  attach(res: ServerResponse): void {
    this.pending--;
    if (res.destroyed) return;
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    this.heartbeat ??= setInterval(() => this.broadcast(': keepalive\n\n'), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  private subscribe(): Promise<void> {
    if (this.subscribed) return this.subscribed;
    const sub = this.redis instanceof Cluster ? this.redis.duplicate() : this.redis.duplicate();
    sub.on('error', (err: Error) => this.log.debug({ err }, 'fleet events subscriber error'));
    sub.on('message', (_channel: string, message: string) => this.relay(message));
    this.sub = sub;
    this.subscribed = sub.subscribe(this.keys.events).then(() => undefined);
    this.subscribed.catch(() => {
      this.subscribed = undefined;
      this.sub = undefined;
      sub.disconnect();
    });
    return this.subscribed;
  }

  /** One fleet event as an SSE frame. Re-encoded: a frame is exactly one `data:` line. */
  private relay(message: string): void {
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      return;
    }
    const type = (event as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !/^[a-z_]{1,40}$/.test(type)) return;
    this.broadcast(`event: ${type}\ndata: ${JSON.stringify(event)}\n\n`);
  }

  private broadcast(frame: string): void {
    const limit = this.opts.maxBuffered ?? MAX_BUFFERED;
    for (const res of this.clients) {
      if (res.writableLength > limit) {
        this.dropped++;
        this.clients.delete(res);
        this.log.info({ buffered: res.writableLength }, 'event stream dropped: the client does not keep up');
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.sub?.disconnect();
    this.sub = undefined;
    this.subscribed = undefined;
  }
}
