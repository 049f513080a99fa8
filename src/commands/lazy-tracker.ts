/**
 * A CommandTracker that exists only while the user is typing. A headless terminal costs about
 * 165 KiB; most sessions of a bastion sit idle at a prompt. So the emulator is created at the
 * first key, dropped again once nothing is in progress and no key came for `sleepAfterMs`,
 * and each time it is created it is first fed the last output (a small ring), which puts the
 * current prompt back on its screen before the key is read.
 *
 * It is never dropped while a full-screen program runs or a line is open, so what it reads
 * after waking is what a continuously running emulator would read for a shell prompt.
 */
import { CommandTracker, type CommandTrackerOptions, type LineState } from './command-tracker.js';

const RING_BYTES = 16 * 1024;

export interface LazyTrackerOptions extends CommandTrackerOptions {
  sleepAfterMs?: number;
}

export class LazyTracker {
  private tracker?: CommandTracker;
  private readonly ring = Buffer.alloc(RING_BYTES);
  private ringEnd = 0;
  private ringFull = false;
  private lastKeyAt = 0;
  private cols: number;
  private rows: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: LazyTrackerOptions) {
    this.cols = opts.cols;
    this.rows = opts.rows;
    const sleepAfter = opts.sleepAfterMs ?? 30_000;
    this.timer = setInterval(() => this.sleepIfIdle(sleepAfter), Math.max(1_000, sleepAfter / 2));
    this.timer.unref();
  }

  /** Whether the emulator currently exists (for tests and metrics). */
  get awake(): boolean {
    return this.tracker !== undefined;
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
    return t;
  }

  /** Drop the emulator if nothing is in progress and no key came for `afterMs`. */
  sleepIfIdle(afterMs: number): void {
    const t = this.tracker;
    if (!t || Date.now() - this.lastKeyAt < afterMs || !t.quiescent()) return;
    t.dispose();
    this.tracker = undefined;
  }

  /** Keep the last RING_BYTES of output (a copy: ssh2's packet buffers are not ours to keep). */
  private remember(data: Buffer): void {
    const src = data.length > RING_BYTES ? data.subarray(data.length - RING_BYTES) : data;
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
}
