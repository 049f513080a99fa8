/**
 * Recording off the relay's thread: one worker thread per process (recording-worker.ts) does
 * every recorder's JSON escaping and hashing. The relay thread's share of a flush is one copy
 * of the batch's bytes into a buffer that is then transferred, not copied again, and the file
 * writes, which libuv runs on its own threads anyway.
 *
 * Each recording keeps its encoder state (a UTF-8 character cut between chunks) in the worker,
 * under an id; the recorder sends one batch at a time, so batches stay in order. If the worker
 * dies, every pending batch fails: those recorders report a recording failure (the session's
 * `recording.onFailure` policy decides), and the next batch starts a new worker.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InlineCodec, type Batch, type BatchCodec, type EncodedBatch } from './batch-codec.js';

export type WorkerRequest =
  | {
      op: 'encode';
      req: number;
      id: number;
      startMs: number;
      coalesceMs: number;
      /** The Buffers of the batch, back to back. */
      bytes: Uint8Array;
      /** Per item: its length in `bytes`, or -1 for the next of `texts`. */
      sizes: number[];
      texts: string[];
      times: readonly number[];
      kinds: readonly number[];
      final: boolean;
      endAt: number;
    }
  | { op: 'release'; id: number };

export type WorkerReply = { req: number; chunk?: Uint8Array; sha256?: string; error?: string };

/** The compiled worker. From TypeScript sources (the tests), the build's copy, if there is one. */
function workerFile(): string | undefined {
  const here = import.meta.url;
  const url = here.endsWith('.js') ? new URL('./recording-worker.js', here) : new URL('../../dist/src/recording/recording-worker.js', here);
  const file = fileURLToPath(url);
  return existsSync(file) ? file : undefined;
}

class RecordingThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve(r: WorkerReply): void; reject(err: Error): void }>();
  private nextReq = 1;

  constructor(private readonly file: string) {}

  request(m: Extract<WorkerRequest, { op: 'encode' }>): Promise<WorkerReply> {
    const w = this.start();
    return new Promise((resolve, reject) => {
      this.pending.set(m.req, { resolve, reject });
      // Keep the process alive while a batch is out (a recording closing at shutdown).
      if (this.pending.size === 1) w.ref();
      w.postMessage(m, [m.bytes.buffer as ArrayBuffer]);
    });
  }

  send(m: WorkerRequest): void {
    this.worker?.postMessage(m);
  }

  newReq(): number {
    return this.nextReq++;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.file);
    w.unref();
    w.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.req);
      this.pending.delete(r.req);
      if (this.pending.size === 0) w.unref();
      if (r.error !== undefined) p?.reject(new Error(`recording worker: ${r.error}`));
      else p?.resolve(r);
    });
    w.on('error', (err) => this.lost(w, err));
    w.on('exit', (code) => this.lost(w, new Error(`recording worker exited (${code})`)));
    this.worker = w;
    return w;
  }

  private lost(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }
}

let thread: RecordingThread | null | undefined;
let nextId = 1;

/** Encodes in the recording worker thread. */
class OffloadedCodec implements BatchCodec {
  private readonly id = nextId++;

  constructor(
    private readonly t: RecordingThread,
    private readonly startMs: number,
    private readonly coalesceMs: number,
  ) {}

  async encode(b: Batch): Promise<EncodedBatch | undefined> {
    let total = 0;
    for (const d of b.data) if (typeof d !== 'string') total += d.length;
    // Its own ArrayBuffer (not the pool's), so it can be transferred.
    const bytes = Buffer.allocUnsafeSlow(total);
    const sizes: number[] = [];
    const texts: string[] = [];
    let at = 0;
    for (const d of b.data) {
      if (typeof d === 'string') {
        texts.push(d);
        sizes.push(-1);
      } else {
        at += d.copy(bytes, at);
        sizes.push(d.length);
      }
    }
    const r = await this.t.request({
      op: 'encode', req: this.t.newReq(), id: this.id, startMs: this.startMs, coalesceMs: this.coalesceMs,
      bytes, sizes, texts, times: b.times, kinds: b.kinds, final: b.final, endAt: b.endAt,
    });
    if (!r.chunk || r.sha256 === undefined) return undefined;
    return { chunk: Buffer.from(r.chunk.buffer, r.chunk.byteOffset, r.chunk.byteLength), sha256: r.sha256 };
  }

  release(): void {
    this.t.send({ op: 'release', id: this.id });
  }
}

/** A codec for one recording: on the worker thread when there is one, else inline. */
export function codecFor(startMs: number, coalesceMs: number, offload = true): BatchCodec {
  if (thread === undefined) {
    const file = workerFile();
    thread = file ? new RecordingThread(file) : null;
  }
  return offload && thread ? new OffloadedCodec(thread, startMs, coalesceMs) : new InlineCodec(startMs, coalesceMs);
}
