/**
 * Streams an asciicast v2 recording of a session to disk while it runs.
 *
 * output()/input() sit on the relay's hot path (every SSH data chunk), where a naive "append each
 * chunk" recorder tripled the relay's CPU cost (DESIGN.md, Pitfalls). So they only push the Buffer
 * and its arrival time onto arrays. A timer (at least once per second), or a setImmediate when more
 * than maxBufferedBytes are waiting, turns the batch into asciicast lines and appends them with ONE
 * async write, then appends the batch's hash-chain entry (see hash-chain.ts).
 *
 * Crash safety: a flush writes whole lines only, so the .cast is always a playable prefix. Memory
 * is bounded: if the disk stalls and more than `hardLimitBytes` pile up, further chunks are dropped,
 * counted, and an asciicast marker event ("m") records the gap.
 *
 * Buffers are kept by reference until the next flush: callers must not reuse them (ssh2 allocates
 * a fresh buffer per packet, so passing its `data` events straight through is fine).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { chainFileOf, formatEntry, GENESIS, nextLink, sha256Hex } from './hash-chain.js';

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
  /** Drop chunks while more than this is buffered (disk stalled); default 16 × maxBufferedBytes. */
  hardLimitBytes?: number;
  /** Chunks of one kind arriving within this many ms of the first become one event (default 5). */
  coalesceMs?: number;
  /** ms clock, default Date.now; injectable for tests. */
  now?: () => number;
  /** A write failed: the recorder stops recording; close() rejects with the same error. */
  onError?: (err: Error) => void;
}

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

const OUT = 0;
const IN = 1;
const RESIZE = 2;
const MARK = 3;
const CODES = ['o', 'i', 'r', 'm'] as const;

export class AsciicastRecorder {
  private readonly now: () => number;
  private readonly maxBuffered: number;
  private readonly hardLimit: number;
  private readonly coalesceMs: number;
  private readonly startMs: number;
  private readonly chainFile: string;
  // The batch: three parallel arrays so the hot path allocates nothing but array growth.
  private data: Array<Buffer | string> = [];
  private times: number[] = [];
  private kinds: number[] = [];
  private buffered = 0;
  private dropped = 0;
  private droppedSinceFlush = 0;
  private readonly decoders = [new StringDecoder('utf8'), new StringDecoder('utf8')];
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
    this.hardLimit = o.hardLimitBytes ?? 16 * this.maxBuffered;
    this.coalesceMs = o.coalesceMs ?? 5;
    this.startMs = this.now();
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
    if (this.buffered + size > this.hardLimit) {
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
    // 'wx': never overwrite an existing recording.
    this.cast = await open(this.o.file, 'wx');
    this.chain = await open(this.chainFile, 'wx');
    const header: Record<string, unknown> = {
      version: 2,
      width: this.o.width,
      height: this.o.height,
      timestamp: Math.floor(this.startMs / 1000),
      title: this.o.title,
      env: { TERM: this.o.term ?? 'xterm' },
    };
    if (this.o.command !== undefined) header.command = this.o.command;
    await this.append(JSON.stringify(header) + '\n');
  }

  private async writeBatch(final: boolean): Promise<void> {
    if (this.error || !this.cast) return;
    const { data, times, kinds } = this;
    this.data = [];
    this.times = [];
    this.kinds = [];
    this.buffered = 0;
    let text = this.encode(data, times, kinds);
    const last = times.length > 0 ? times[times.length - 1]! : this.now();
    if (this.droppedSinceFlush > 0) {
      text += this.line(last, MARK, `warden: ${this.droppedSinceFlush} bytes not recorded (disk too slow)`);
      this.droppedSinceFlush = 0;
    }
    if (final) {
      // Bytes of an unfinished UTF-8 sequence at the very end: flush them (as U+FFFD).
      for (const kind of [OUT, IN]) {
        const rest = this.decoders[kind]!.end();
        if (rest) text += this.line(last, kind, rest);
      }
    }
    if (text) await this.append(text);
  }

  /** Turns a batch into asciicast lines, merging same-kind chunks that arrived close together. */
  private encode(data: Array<Buffer | string>, times: number[], kinds: number[]): string {
    let text = '';
    for (let i = 0; i < data.length; ) {
      const kind = kinds[i]!;
      const t = times[i]!;
      if (kind === RESIZE) {
        text += this.line(t, kind, data[i] as string);
        i++;
        continue;
      }
      const decoder = this.decoders[kind]!; // one per stream: a split character continues there
      let s = decoder.write(data[i] as Buffer);
      let j = i + 1;
      while (j < data.length && kinds[j] === kind && times[j]! - t <= this.coalesceMs) {
        s += decoder.write(data[j] as Buffer);
        j++;
      }
      if (s) text += this.line(t, kind, s);
      i = j;
    }
    return text;
  }

  private line(t: number, kind: number, s: string): string {
    const seconds = Math.max(0, Math.round((t - this.startMs) * 1000) / 1e6);
    return JSON.stringify([seconds, CODES[kind], s]) + '\n';
  }

  /** Appends one chunk to the .cast, then its link to the .chain. */
  private async append(text: string): Promise<void> {
    const chunk = Buffer.from(text, 'utf8');
    await writeAll(this.cast!, chunk);
    const sha = sha256Hex(chunk);
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

  private fail(err: unknown): void {
    if (this.error) return;
    this.error = err instanceof Error ? err : new Error(String(err));
    this.data = [];
    this.times = [];
    this.kinds = [];
    this.buffered = 0;
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
