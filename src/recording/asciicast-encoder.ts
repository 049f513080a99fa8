/**
 * Turns the recorder's batches (raw chunks + arrival times) into asciicast v2 lines. Kept apart
 * from the recorder so the format lives in one place and the recorder is only about buffering
 * and files.
 */
import { StringDecoder } from 'node:string_decoder';

export const OUT = 0;
export const IN = 1;
export const RESIZE = 2;
export const MARK = 3;
export type EventKind = typeof OUT | typeof IN | typeof RESIZE | typeof MARK;
const CODES = ['o', 'i', 'r', 'm'] as const;
/** Largest merged event; bulk output stays one event per chunk. */
const MAX_MERGE = 64 * 1024;

export interface HeaderFields {
  width: number;
  height: number;
  title: string;
  term?: string;
  command?: string;
}

export class AsciicastEncoder {
  // One decoder per stream, kept across batches: a character split between two chunks (or two
  // flushes) is completed by the next chunk of the same stream instead of becoming U+FFFD.
  private readonly decoders = [new StringDecoder('utf8'), new StringDecoder('utf8')];

  constructor(
    private readonly startMs: number,
    private readonly coalesceMs: number,
  ) {}

  header(h: HeaderFields): string {
    const header: Record<string, unknown> = {
      version: 2,
      width: h.width,
      height: h.height,
      timestamp: Math.floor(this.startMs / 1000),
      title: h.title,
      env: { TERM: h.term ?? 'xterm' },
    };
    if (h.command !== undefined) header.command = h.command;
    return JSON.stringify(header) + '\n';
  }

  /** Appends the lines for a batch to `out`, merging same-kind chunks that arrived within
   *  coalesceMs of the first. Output/input items are Buffers, resize and marker items strings.
   *  Lines stay separate strings: encoding them one by one into a Buffer (toBuffer) is several
   *  times faster than encoding one big concatenated string. */
  encode(data: ReadonlyArray<Buffer | string>, times: readonly number[], kinds: readonly number[], out: string[]): void {
    for (let i = 0; i < data.length; ) {
      const kind = kinds[i]!;
      const t = times[i]!;
      const item = data[i]!;
      if (typeof item === 'string') {
        out.push(this.line(t, kind, item));
        i++;
        continue;
      }
      // Merge a run of small chunks (keystroke echoes, readline redraws) into one event. The run's
      // bytes are concatenated before decoding: JSON.stringify on a concatenated (rope) string
      // is several times slower than on a flat one, and it is the flush's main cost.
      let j = i + 1;
      let size = item.length;
      while (j < data.length && kinds[j] === kind && times[j]! - t <= this.coalesceMs && size + (data[j] as Buffer).length <= MAX_MERGE) {
        size += (data[j] as Buffer).length;
        j++;
      }
      const bytes = j === i + 1 ? item : Buffer.concat(data.slice(i, j) as Buffer[], size);
      const s = this.decoders[kind]!.write(bytes);
      if (s) out.push(this.line(t, kind, s));
      i = j;
    }
  }

  /** At the end of the recording: bytes of an unfinished UTF-8 sequence, as U+FFFD. */
  end(t: number, out: string[]): void {
    for (const kind of [OUT, IN]) {
      const rest = this.decoders[kind]!.end();
      if (rest) out.push(this.line(t, kind, rest));
    }
  }

  line(t: number, kind: number, s: string): string {
    // Microsecond precision, without float noise such as 0.30000000000000004.
    const seconds = Math.max(0, Math.round((t - this.startMs) * 1000) / 1e6);
    return JSON.stringify([seconds, CODES[kind], s]) + '\n';
  }
}

export function toBuffer(lines: readonly string[]): Buffer {
  let size = 0;
  for (const l of lines) size += Buffer.byteLength(l, 'utf8');
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const l of lines) at += buf.write(l, at, 'utf8');
  return buf;
}
