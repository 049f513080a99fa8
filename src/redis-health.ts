/**
 * Redis availability by probe, not by connection status: ioredis says `ready` while a server
 * is frozen (SIGSTOP, a long fork, a partition without RST), because nothing closed the
 * socket. A PING on a connection of its own, every `intervalMs`, must answer within
 * `deadlineMs`; a late answer counts as a failure too, so a slow Redis is as unavailable as a
 * frozen one (a stall of this process's own event loop is not: see tick). Its own connection
 * keeps the probe out of the queue of the main one (where a backlog of registry writes would
 * delay it) and, with no offline queue, it fails at once while disconnected instead of waiting
 * for a reconnect.
 *
 * Nothing here is awaited by anyone: logins read `available`, a boolean.
 */
import type { Logger } from './logger.js';

/** The little of an ioredis connection (or Cluster) the probe needs. */
export interface Pingable {
  status: string;
  ping(): Promise<string>;
}

export interface HealthOptions {
  intervalMs: number;
  deadlineMs: number;
}

export class RedisHealth {
  private healthy = true;
  private outstanding = false;
  private timer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private verdict?: NodeJS.Immediate;
  private readonly listeners: Array<(up: boolean) => void> = [];

  /**
   * @param probe connection used only for the PING
   * @param watched connections that must also be `ready` (a reconnecting main connection
   *   means writes are queued, not done)
   */
  constructor(
    private readonly probe: Pingable,
    private readonly watched: Pingable[],
    private readonly opts: HealthOptions,
    private readonly log: Logger,
  ) {}

  /** True while the last probe answered in time and every watched connection is ready. */
  get available(): boolean {
    return this.healthy && this.watched.every((c) => c.status === 'ready');
  }

  /** Called on every change of `available` as seen by the probe (not on every probe). */
  onChange(fn: (up: boolean) => void): void {
    this.listeners.push(fn);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.deadlineTimer);
    clearImmediate(this.verdict);
  }

  private tick(): void {
    // One PING at a time: a frozen server would otherwise collect one per interval.
    if (this.outstanding) return;
    if (!this.watched.every((c) => c.status === 'ready')) return this.set(false, 'connection not ready');
    this.outstanding = true;
    let missed = false;
    // The verdict waits one more pass of I/O (setImmediate runs after the poll phase): when
    // this process's own event loop was blocked past the deadline (a long GC, a starved CPU),
    // an answer already waiting in the socket is read first. Lag of our own is not a Redis
    // outage; a PING still unanswered after the deadline and that pass is.
    this.deadlineTimer = setTimeout(() => {
      this.verdict = setImmediate(() => {
        missed = true;
        this.set(false, `no answer to PING within ${this.opts.deadlineMs} ms`);
      });
    }, this.opts.deadlineMs);
    this.probe.ping().then(
      // An answer after the verdict does not count: a slow Redis is as unavailable as a frozen one.
      () => void (missed || this.set(true)),
      (err: Error) => this.set(false, err.message),
    ).finally(() => {
      clearTimeout(this.deadlineTimer);
      clearImmediate(this.verdict);
      this.outstanding = false;
    });
  }

  private set(up: boolean, why?: string): void {
    if (up === this.healthy) return;
    this.healthy = up;
    if (up) this.log.info('redis available again: new logins accepted');
    else this.log.warn({ why }, 'redis unavailable: new logins refused until it answers again');
    for (const fn of this.listeners) fn(up);
  }
}
