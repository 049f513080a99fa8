/**
 * A CommandTracker that exists only while the user is typing. A headless terminal costs about
 * 165 KiB; most sessions of a bastion sit idle at a prompt. So the emulator is created at the
 * first key, dropped again once nothing is in progress and no key came for `sleepAfterMs`,
 * and each time it is created it is first fed the last output (a small ring), which puts the
 * current prompt back on its screen before the key is read.
 *
 * It is never dropped while a full-screen program runs or a line is open, so what it reads
 * after waking is what a continuously running emulator would read for a shell prompt.
 *
 * An idle session costs little here: the ring starts at 1 KiB and doubles only as output comes
 * (a prompt fits the first allocation), and the sleep check is a timer only while awake.
 */
import { CommandTracker, type CommandTrackerOptions, type LineState } from './command-tracker.js';

const RING_BYTES = 16 * 1024;
/** The ring's first allocation (a power of two, so doubling ends exactly at RING_BYTES). */
const RING_START = 1024;
const EMPTY = Buffer.alloc(0);

export interface LazyTrackerOptions extends CommandTrackerOptions {
  sleepAfterMs?: number;
}

export class LazyTracker {
  private tracker?: CommandTracker;
  /** Grows up to RING_BYTES; wraps around only at that size. */
  private ring: Buffer = EMPTY;
  private ringEnd = 0;
  private ringFull = false;
  private lastKeyAt = 0;
  private cols: number;
  private rows: number;
  /** The sleep check, armed only while the emulator exists. */
  private timer?: NodeJS.Timeout;
  private readonly sleepAfterMs: number;

  constructor(private readonly opts: LazyTrackerOptions) {
    this.cols = opts.cols;
    this.rows = opts.rows;
    this.sleepAfterMs = opts.sleepAfterMs ?? 30_000;
  }

  /** Whether the emulator currently exists (for tests and metrics). */
  get awake(): boolean {
    return this.tracker !== undefined;
  }

  /** Bytes held for the recent-output ring (for tests and memory figures). */
  get ringBytes(): number {
    return this.ring.length;
  }

  output(data: Buffer): void {
    this.remember(data);
    this.tracker?.output(data);
  }

  input(data: Buffer): void {
    this.lastKeyAt = Date.now();
    this.wake().input(data);
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    this.tracker?.resize(cols, rows);
  }

  currentLine(): string {
    return this.tracker?.currentLine() ?? '';
  }

  lineState(): LineState {
    return this.tracker?.lineState() ?? { line: '', echo: 'matches', atKnownPrompt: undefined };
  }

  flush(): Promise<void> {
    return this.tracker?.flush() ?? Promise.resolve();
  }

  dispose(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.tracker?.dispose();
    this.tracker = undefined;
  }

  /** The last output (up to RING_BYTES, a copy): enough to redraw the current screen. */
  recent(): Buffer {
    return this.ringFull ? Buffer.concat([this.ring.subarray(this.ringEnd), this.ring.subarray(0, this.ringEnd)]) : Buffer.from(this.ring.subarray(0, this.ringEnd));
  }

  private wake(): CommandTracker {
    if (this.tracker) return this.tracker;
    const t = new CommandTracker({ ...this.opts, cols: this.cols, rows: this.rows });
    const recent = this.recent();
    if (recent.length) t.output(recent);
    this.tracker = t;
    this.timer = setInterval(() => this.sleepIfIdle(this.sleepAfterMs), Math.max(1_000, this.sleepAfterMs / 2));
    this.timer.unref();
    return t;
  }

  /** Drop the emulator if nothing is in progress and no key came for `afterMs`. */
  sleepIfIdle(afterMs: number): void {
    const t = this.tracker;
    if (!t || Date.now() - this.lastKeyAt < afterMs || !t.quiescent()) return;
    t.dispose();
    this.tracker = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Keep the last RING_BYTES of output (a copy: ssh2's packet buffers are not ours to keep). */
  private remember(data: Buffer): void {
    const src = data.length > RING_BYTES ? data.subarray(data.length - RING_BYTES) : data;
    if (this.ring.length < RING_BYTES && this.ringEnd + src.length > this.ring.length) this.grow(this.ringEnd + src.length);
    const first = Math.min(src.length, RING_BYTES - this.ringEnd);
    src.copy(this.ring, this.ringEnd, 0, first);
    if (first < src.length) {
      src.copy(this.ring, 0, first);
      this.ringEnd = src.length - first;
      this.ringFull = true;
    } else {
      this.ringEnd += first;
      if (this.ringEnd === RING_BYTES) {
        this.ringEnd = 0;
        this.ringFull = true;
      }
    }
  }

  /** Below RING_BYTES the ring holds everything so far from offset 0: make room for `needed`. */
  private grow(needed: number): void {
    let size = Math.max(RING_START, this.ring.length);
    while (size < needed && size < RING_BYTES) size *= 2;
    // Slow: its own memory, not a slice that pins an 8 KiB pool; bytes past ringEnd are never read.
    const ring = Buffer.allocUnsafeSlow(Math.min(size, RING_BYTES));
    this.ring.copy(ring, 0, 0, this.ringEnd);
    this.ring = ring;
  }
}
