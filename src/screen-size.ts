/**
 * Terminal sizes as Warden models them. The client's size goes to the target unchanged, but the
 * screens Warden itself keeps (the command tracker's headless terminal, the recording's header
 * and resize events, which a player allocates) are clamped: a 65535x65535 pty request would
 * otherwise allocate gigabytes. Columns matter most (they decide line wrapping, which the
 * command log reads), so rows give way first when the cell budget is exceeded.
 */

export const MAX_COLS = 1000;
export const MAX_ROWS = 1000;
/** ~3 MiB of emulator cells; 1000x250, 500x500, or a 4K screen in a small font. */
export const MAX_CELLS = 250_000;
const DEFAULT = { cols: 80, rows: 24 };

export interface ScreenSize {
  cols: number;
  rows: number;
}

export function clampScreen(cols: number, rows: number): ScreenSize {
  // 0 means "unknown" in a pty request (the client sent pixels only).
  const c = Math.min(MAX_COLS, Number.isFinite(cols) && cols >= 1 ? Math.floor(cols) : DEFAULT.cols);
  const r = Math.min(MAX_ROWS, Number.isFinite(rows) && rows >= 1 ? Math.floor(rows) : DEFAULT.rows);
  return { cols: c, rows: Math.max(1, Math.min(r, Math.floor(MAX_CELLS / c))) };
}

/**
 * Window changes, at most one per `everyMs`, the latest winning: a client that sends thousands
 * per second costs one resize of the target and of Warden's screen per period, and nothing
 * queues. The first change of a burst goes through at once, so a single resize is not delayed.
 */
export class ResizeCoalescer<T> {
  private timer?: NodeJS.Timeout;
  private pending?: T;

  constructor(
    private readonly apply: (size: T) => void,
    private readonly everyMs = 50,
  ) {}

  push(size: T): void {
    if (this.timer) {
      this.pending = size;
      return;
    }
    this.apply(size);
    this.arm();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const next = this.pending;
      this.pending = undefined;
      if (next !== undefined) {
        this.apply(next);
        this.arm();
      }
    }, this.everyMs);
    this.timer.unref();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
