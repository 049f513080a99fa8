/**
 * A flush's batch → the bytes appended to the .cast and their SHA-256: the CPU-heavy half of
 * recording (JSON escaping and hashing), behind one interface so it can run on the relay's
 * thread (InlineCodec) or on the recording worker thread (recording-offload.ts).
 */
import { AsciicastEncoder, toBuffer } from './asciicast-encoder.js';
import { sha256Hex } from './hash-chain.js';

export interface Batch {
  /** Output/input chunks (Buffers), resize and marker texts (strings), in arrival order. */
  data: ReadonlyArray<Buffer | string>;
  times: readonly number[];
  kinds: readonly number[];
  /** The recording's last batch: an unfinished UTF-8 character becomes U+FFFD. */
  final: boolean;
  /** Time of that U+FFFD event. */
  endAt: number;
}

export interface EncodedBatch {
  chunk: Buffer;
  sha256: string;
}

export interface BatchCodec {
  /** Batches of one recording must be encoded one after another (UTF-8 state carries over). */
  encode(batch: Batch): Promise<EncodedBatch | undefined>;
  /** The recording stopped early: free what the codec holds for it. */
  release(): void;
}

/** Encodes on the calling thread. `allocate` gives the chunk's buffer (the worker needs one it can transfer). */
export class InlineCodec implements BatchCodec {
  private readonly encoder: AsciicastEncoder;

  constructor(startMs: number, coalesceMs: number) {
    this.encoder = new AsciicastEncoder(startMs, coalesceMs);
  }

  encodeNow(b: Batch, allocate?: (size: number) => Buffer): EncodedBatch | undefined {
    const lines: string[] = [];
    this.encoder.encode(b.data, b.times, b.kinds, lines);
    if (b.final) this.encoder.end(b.endAt, lines);
    if (lines.length === 0) return undefined;
    const chunk = toBuffer(lines, allocate);
    return { chunk, sha256: sha256Hex(chunk) };
  }

  encode(b: Batch): Promise<EncodedBatch | undefined> {
    return Promise.resolve(this.encodeNow(b));
  }

  release(): void {}
}
