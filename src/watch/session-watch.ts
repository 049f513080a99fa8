/**
 * The owner's side of watching one session: exists only while the session has watchers.
 * SessionChannels hands it every output chunk and resize (one field check when nobody
 * watches); it follows ONE terminal channel, the lowest-numbered open shell channel with a
 * pty (a ControlMaster connection's exec and sftp channels are not a screen), and moves to
 * the next one, with a fresh screen, when that one closes.
 *
 * The relay must never wait for a watcher: chunks are copied into one fixed batch buffer and
 * published as Nagle would: at the end of the event-loop turn when nothing is in flight (a
 * keystroke's echo goes out at once), else when the publish in flight is answered or the batch
 * is full (a flood goes out in 64 KiB messages, not one per chunk). Publishes in flight are
 * bounded; past the bound the output is dropped and, once Redis has caught up, every watcher
 * gets a fresh screen instead (drop and resync, never an unbounded buffer). Fresh screens after
 * drops come at most every RESYNC_EVERY_MS: drawing one costs the relay's thread a throwaway
 * terminal, and a flood (`cat` of a big file) otherwise made it draw one per dropped batch.
 */
import type { ChannelRelay } from '../channel-relay.js';
import type { Logger } from '../logger.js';
import { clampScreen } from '../screen-size.js';
import { encodeFrame, EVERYONE, type WatchFrame } from './watch-frames.js';
import { renderScreen } from './screen-snapshot.js';

const BATCH_BYTES = 64 * 1024;
/**
 * Batches on their way to Redis (at most ~MAX_IN_FLIGHT * BATCH_BYTES held). Two keep a
 * stream moving (one answered while the next fills) at 64 KiB per round trip; a flood that
 * outruns that is drawn as screens anyway, and each batch more published before the drop was
 * relay CPU, Redis and watcher work for output nobody can read at that speed.
 */
export const MAX_IN_FLIGHT = 2;
/** Fewest ms between two fresh screens after drops (a flood then redraws ~4 times a second). */
export const RESYNC_EVERY_MS = 250;

/** What SessionChannels calls on the data path while the session is watched. */
export interface WatchTap {
  output(relay: ChannelRelay, data: Buffer): void;
  resize(relay: ChannelRelay): void;
  closed(relay: ChannelRelay): void;
}

/** What a watched session offers: its terminal channels and their recent output. */
export interface Watchable {
  watch?: WatchTap;
  /** Open shell channels with a pty, lowest number first. */
  terminals(): ChannelRelay[];
  recentOutput(relay: ChannelRelay): Buffer;
}

export class SessionWatch implements WatchTap {
  private current?: ChannelRelay;
  private readonly batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private immediate?: NodeJS.Immediate;
  private inFlight = 0;
  /** Output was dropped: send everyone a fresh screen once the publishes in flight are done. */
  private resync = false;
  private resyncTimer?: NodeJS.Timeout;
  private lastResyncAt = -Infinity;
  /** A screen is being rendered: output waits in the batch so it follows the screen. */
  private rendering = 0;
  private ended = false;
  dropped = 0;

  constructor(
    private readonly target: Watchable,
    private readonly publish: (frame: Buffer) => Promise<unknown>,
    private readonly log: Logger,
    /** Draws a screen from recent output (injectable so tests can hold it mid-draw). */
    private readonly render: typeof renderScreen = renderScreen,
  ) {
    this.current = target.terminals()[0];
  }

  /** The channel being shown (the user's notices go there). */
  get channel(): ChannelRelay | undefined {
    return this.current;
  }

  output(relay: ChannelRelay, data: Buffer): void {
    if (relay !== this.current || this.ended || this.resync) return;
    if (this.used + data.length > BATCH_BYTES) {
      if (this.rendering) return this.drop();
      this.flush();
      if (data.length > BATCH_BYTES) return this.send({ type: 'output', data });
    }
    data.copy(this.batch, this.used);
    this.used += data.length;
    if (this.inFlight === 0) this.immediate ??= setImmediate(() => this.flush());
  }

  resize(relay: ChannelRelay): void {
    if (relay !== this.current || this.ended || !relay.pty) return;
    this.flush();
    this.send({ type: 'resize', ...clampScreen(relay.pty.cols, relay.pty.rows) });
  }

  closed(relay: ChannelRelay): void {
    if (relay !== this.current || this.ended) return;
    this.flush();
    this.current = this.target.terminals().find((r) => r !== relay);
    // The last terminal closing is (almost always) the session ending: its end frame follows.
    if (this.current) void this.screen(EVERYONE);
  }

  /** Send the current screen to one watcher (or EVERYONE), ahead of any later output. */
  async screen(watcher: string): Promise<void> {
    this.flush();
    const relay = this.current;
    const size = clampScreen(relay?.pty?.cols ?? 80, relay?.pty?.rows ?? 24);
    this.rendering++;
    try {
      const data = relay
        ? await this.render(this.target.recentOutput(relay), size.cols, size.rows)
        : Buffer.from('\x1b[H\x1b[2J[warden] this session has no terminal channel open (exec and sftp channels are not shown)\r\n');
      this.send({ type: 'screen', for: watcher, ...size, data });
    } catch (err) {
      this.log.warn({ err }, 'watch: cannot render the screen');
    } finally {
      this.rendering--;
      this.flush();
    }
  }

  /** The last frame: the session (or the watch) is over. */
  end(reason: string): void {
    if (this.ended) return;
    this.flush();
    this.send({ type: 'end', reason });
    this.close();
  }

  /** Nobody watches any more: nothing further is published (a pending batch or redraw is let go). */
  close(): void {
    this.ended = true;
    clearImmediate(this.immediate);
    clearTimeout(this.resyncTimer);
  }

  private flush(): void {
    clearImmediate(this.immediate);
    this.immediate = undefined;
    if (this.used === 0 || this.rendering) return;
    const frame = encodeFrame({ type: 'output', data: this.batch.subarray(0, this.used) });
    this.used = 0;
    this.sendEncoded(frame);
  }

  private send(f: WatchFrame): void {
    this.sendEncoded(encodeFrame(f));
  }

  private sendEncoded(frame: Buffer): void {
    if (this.ended) return;
    if (this.inFlight >= MAX_IN_FLIGHT) return this.drop();
    this.inFlight++;
    void this.publish(frame)
      .catch((err: Error) => this.log.debug({ err }, 'watch: publish failed'))
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) this.flush();
        if (this.resync && this.inFlight === 0) this.scheduleResync();
      });
  }

  /** A fresh screen for everyone once Redis has caught up, at most every RESYNC_EVERY_MS. */
  private scheduleResync(): void {
    if (this.resyncTimer || this.ended) return;
    const wait = Math.max(0, this.lastResyncAt + RESYNC_EVERY_MS - Date.now());
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      // A publish sent meanwhile (a resize, a new watcher's screen) calls back here when done.
      if (!this.resync || this.inFlight > 0 || this.ended) return;
      this.resync = false;
      this.lastResyncAt = Date.now();
      void this.screen(EVERYONE);
    }, wait);
  }

  private drop(): void {
    this.dropped++;
    this.used = 0;
    this.resync = true;
  }
}
