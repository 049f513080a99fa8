/**
 * Counts the bytes written to the headless terminal that it has not parsed yet.
 *
 * xterm parses far slower than the relay moves bulk output (tens of MB/s against hundreds), so
 * during a large `cat` its write queue would grow without bound. Past `max` the tracker skips
 * output instead: the screen is wrong until the program redraws, but skipping output can only
 * lose commands, never reveal input that was not echoed.
 */
export class WriteLag {
  private lag = 0;
  private sizes: number[] = [];
  private head = 0;
  skipped = 0;

  constructor(private readonly max: number) {}

  /** Whether a write of `len` bytes may go to the terminal; counts it either way. */
  admit(len: number): boolean {
    if (this.lag + len > this.max) {
      this.skipped += len;
      return false;
    }
    this.lag += len;
    this.sizes.push(len);
    return true;
  }

  /** Pass as the write callback of every admitted write: one shared function, so nothing is
   *  allocated per chunk. xterm runs write callbacks in write order. */
  readonly parsed = (): void => {
    this.lag -= this.sizes[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.sizes.length) {
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  };
}
