/**
 * Streams an asciicast v2 recording of a session to disk while it runs.
 *
 * output()/input() sit on the relay's hot path (every SSH data chunk), where a naive "append each
 * chunk" recorder tripled the relay's CPU cost (DESIGN.md, Pitfalls). So they only push the Buffer
 * and its arrival time onto arrays. A timer (at least once per second), or a setImmediate when more
 * than maxBufferedBytes are waiting, hands the batch to the codec, which turns it into asciicast
 * lines and hashes them on the recording worker thread (recording-offload.ts), and appends the
 * result with ONE async write, then the batch's hash-chain entry (see hash-chain.ts).
 *
 * Crash safety: a flush writes whole lines only, so the .cast is always a playable prefix.
 *
 * Memory is bounded. Output can arrive faster than it can be encoded and written (a user running
 * `cat` on a large file); dropping it would let a user open an unrecorded gap on purpose. So the
 * recorder exposes backpressure: `backlogged` turns true above `pauseAboveBytes`, and `drained()`
 * resolves once the backlog is back under maxBufferedBytes; the relay should pause the target
 * channel in between. Only if that is ignored and `hardLimitBytes` is reached are chunks dropped,
 * counted, and the gap marked in the recording with an asciicast marker event ("m").
 *
 * Buffers are kept by reference until the next flush: callers must not reuse them (ssh2 allocates
 * a fresh buffer per packet, so passing its `data` events straight through is fine).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { headerLine, IN, MARK, OUT, RESIZE } from './asciicast-encoder.js';
import type { BatchCodec, EncodedBatch } from './batch-codec.js';
import { chainFileOf, formatEntry, GENESIS, nextLink, sha256Hex } from './hash-chain.js';
import { codecFor } from './recording-offload.js';
import { PRIVATE_FILE } from '../private-files.js';

export interface RecorderOptions {
  file: string;
  width: number;
  height: number;
  term?: string;
  title: string;
  command?: string;
  recordInput?: boolean;
  /** Default 1000. */
  flushIntervalMs?: number;
  /** Flush early above this many buffered bytes (default 256 KiB). */
  maxBufferedBytes?: number;
  /** `backlogged` above this many buffered + in-flight bytes; default 4 × maxBufferedBytes. */
  pauseAboveBytes?: number;
  /** Drop chunks beyond this backlog (backpressure ignored); default 64 × maxBufferedBytes. */
  hardLimitBytes?: number;
  /** Chunks of one kind arriving within this many ms of the first become one event (default 5). */
  coalesceMs?: number;
  /** Encode and hash on the recording worker thread (default) rather than the caller's. */
  offload?: boolean;
  /** ms clock, default Date.now; injectable for tests. */
  now?: () => number;
  /** A write failed: the recorder stops recording; close() rejects with the same error. */
  onError?: (err: Error) => void;
  /** Output was left out (the hard limit was reached) and the gap marked: audit it. */
  onGap?: (droppedBytes: number) => void;
}

/**
 * Test hook: awaited before each write of a flush (a slow disk, without a slow disk). Stays
 * undefined in production; a test sets it on the Warden it runs in-process.
 */
export const recorderTestHooks: { beforeWrite?: () => Promise<void> } = {};

export interface RecordingSummary {
  file: string;
  chainFile: string;
  /** Bytes of the .cast. */
  bytes: number;
  /** Flushes written, the header (chunk 0) included. */
  chunks: number;
  durationMs: number;
  /** Last chain link: store it outside the recording's directory to make the chain tamper-evident. */
  chainHead: string;
  droppedBytes: number;
}

export class AsciicastRecorder {
  private readonly now: () => number;
  private readonly maxBuffered: number;
  private readonly pauseAbove: number;
  private readonly hardLimit: number;
  private readonly codec: BatchCodec;
  private readonly startMs: number;
  private readonly chainFile: string;
  // The batch: three parallel arrays so the hot path allocates nothing but array growth.
  private data: Array<Buffer | string> = [];
  private times: number[] = [];
  private kinds: number[] = [];
  private buffered = 0;
  /** Bytes of the batch being encoded and written. */
  private inFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private dropped = 0;
  private droppedSinceFlush = 0;
  private cast: FileHandle | undefined;
  private chain: FileHandle | undefined;
  private bytes = 0;
  private seq = 0;
  private head = GENESIS;
  private error: Error | undefined;
  private closed = false;
  private earlyFlush = false;
  /** Flushes run one after another; each takes the batch as it is when it starts. */
  private tail: Promise<void>;
  private flushQueued = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: RecorderOptions) {
    this.now = o.now ?? Date.now;
    this.maxBuffered = o.maxBufferedBytes ?? 256 * 1024;
    this.pauseAbove = o.pauseAboveBytes ?? 4 * this.maxBuffered;
    this.hardLimit = o.hardLimitBytes ?? 64 * this.maxBuffered;
    this.startMs = this.now();
    this.codec = codecFor(this.startMs, o.coalesceMs ?? 5, o.offload);
    this.chainFile = chainFileOf(o.file);
    this.tail = this.start().catch((err: unknown) => this.fail(err));
    this.timer = setInterval(() => void this.flush(), o.flushIntervalMs ?? 1000);
    this.timer.unref(); // a recording must never keep the process alive
  }

  output(data: Buffer): void {
    this.push(OUT, data, data.length);
  }

  input(data: Buffer): void {
    if (this.o.recordInput) this.push(IN, data, data.length);
  }

  resize(cols: number, rows: number): void {
    this.push(RESIZE, `${cols}x${rows}`, 0);
  }

  /** A marker ("m" event): a note in the timeline, e.g. that output was left out on purpose. */
  marker(text: string): void {
    this.push(MARK, text, 0);
  }

  /** The caller should stop reading the target until drained() resolves. */
  get backlogged(): boolean {
    return this.buffered + this.inFlight >= this.pauseAbove;
  }

  /** Resolves when the backlog is at most maxBufferedBytes (or the recorder closed or failed). */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Writes what is buffered now. Never rejects: failures go to onError and close(). */
  flush(): Promise<void> {
    if (this.flushQueued) return this.tail;
    this.flushQueued = true;
    this.tail = this.tail.then(() => {
      this.flushQueued = false;
      return this.writeBatch(false).catch((err: unknown) => this.fail(err));
    });
    return this.tail;
  }

  async close(): Promise<RecordingSummary> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.timer);
      this.tail = this.tail.then(() => this.writeBatch(true).catch((err: unknown) => this.fail(err)));
      this.tail = this.tail.then(() => this.closeFiles());
      this.tail = this.tail.then(() => this.wakeDrainWaiters());
    }
    await this.tail;
    if (this.error) throw this.error;
    return {
      file: this.o.file,
      chainFile: this.chainFile,
      bytes: this.bytes,
      chunks: this.seq,
      durationMs: this.now() - this.startMs,
      chainHead: this.head,
      droppedBytes: this.dropped,
    };
  }

  private push(kind: number, item: Buffer | string, size: number): void {
    if (this.closed || this.error) return;
    if (this.buffered + this.inFlight + size > this.hardLimit) {
      this.dropped += size;
      this.droppedSinceFlush += size;
      return;
    }
    this.data.push(item);
    this.times.push(this.now());
    this.kinds.push(kind);
    this.buffered += size;
    if (this.buffered >= this.maxBuffered && !this.earlyFlush) {
      // Not inline: the conversion and hashing must not run inside the relay's data handler.
      this.earlyFlush = true;
      setImmediate(() => {
        this.earlyFlush = false;
        void this.flush();
      });
    }
  }

  private async start(): Promise<void> {
    // 'wx': never overwrite an existing recording. 0600: audit data is private.
    this.cast = await open(this.o.file, 'wx', PRIVATE_FILE);
    this.chain = await open(this.chainFile, 'wx', PRIVATE_FILE);
    const header = Buffer.from(headerLine(this.startMs, this.o), 'utf8');
    await this.append({ chunk: header, sha256: sha256Hex(header) });
  }

  private async writeBatch(final: boolean): Promise<void> {
    try {
      await this.writeBatchInner(final);
    } finally {
      this.inFlight = 0;
      this.wakeDrainWaiters();
    }
  }

  private async writeBatchInner(final: boolean): Promise<void> {
    if (this.error || !this.cast) return;
    const { data, times, kinds } = this;
    this.data = [];
    this.times = [];
    this.kinds = [];
    this.inFlight = this.buffered;
    this.buffered = 0;
    const last = times.length > 0 ? times[times.length - 1]! : this.now();
    if (this.droppedSinceFlush > 0) {
      const gap = this.droppedSinceFlush;
      data.push(`warden: ${gap} bytes not recorded (recorder overloaded)`);
      times.push(last);
      kinds.push(MARK);
      this.droppedSinceFlush = 0;
      this.o.onGap?.(gap);
    }
    if (data.length === 0 && !final) return;
    const encoded = await this.codec.encode({ data, times, kinds, final, endAt: last });
    if (encoded && !this.error) await this.append(encoded);
  }

  /** Appends one chunk to the .cast, then its link to the .chain. */
  private async append({ chunk, sha256: sha }: EncodedBatch): Promise<void> {
    if (recorderTestHooks.beforeWrite) await recorderTestHooks.beforeWrite();
    await writeAll(this.cast!, chunk);
    this.head = nextLink(this.head, sha);
    await writeAll(this.chain!, Buffer.from(formatEntry({ seq: this.seq, offset: this.bytes, length: chunk.length, sha256: sha, chain: this.head })));
    this.bytes += chunk.length;
    this.seq++;
  }

  private async closeFiles(): Promise<void> {
    const handles = [this.cast, this.chain];
    this.cast = this.chain = undefined;
    for (const h of handles) await h?.close().catch((err: unknown) => this.fail(err));
  }

  private isDrained(): boolean {
    return this.closed || this.error !== undefined || this.buffered + this.inFlight <= this.maxBuffered;
  }

  private wakeDrainWaiters(): void {
    if (this.drainWaiters.length === 0 || !this.isDrained()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private fail(err: unknown): void {
    if (this.error) return;
    this.error = err instanceof Error ? err : new Error(String(err));
    this.codec.release();
    this.data = [];
    this.times = [];
    this.kinds = [];
    this.buffered = 0;
    this.wakeDrainWaiters();
    this.o.onError?.(this.error);
  }
}

/** FileHandle.write may write less than asked; a short write would leave half a line. */
async function writeAll(handle: FileHandle, buf: Buffer): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done);
    done += bytesWritten;
  }
}
