/**
 * Turns the recorder's batches (raw chunks + arrival times) into asciicast v2 lines. Kept apart
 * from the recorder so the format lives in one place and the recorder is only about buffering
 * and files.
 *
 * Speed (the recorder's main cost, measured with --cpu-prof on a recorded `cat`): decoding the
 * output to a JS string, JSON.stringify and encoding back to UTF-8 cost ~3x the hashing. Text
 * containing even one non-Latin-1 character becomes a two-byte string in V8, and every step
 * is then slower. So lines are kept as *byte strings* (one char per byte, 'latin1'): an output
 * chunk that is valid UTF-8 (checked natively, `isUtf8`) is read as latin1, which is a plain
 * copy; JSON.stringify escapes only characters < 0x20, '"' and '\' (and lone surrogates, which
 * a one-byte string cannot hold), so bytes 0x80-0xFF pass through untouched and the line,
 * written back as latin1, is exactly the UTF-8 JSON line. Invalid UTF-8 (rare) takes the slow
 * path: decoded with U+FFFD replacements, as before.
 */
import { isUtf8 } from 'node:buffer';
import { Utf8Tail } from './utf8-tail.js';

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

/** The asciicast v2 header line of a recording that started at `startMs`. */
export function headerLine(startMs: number, h: HeaderFields): string {
  const header: Record<string, unknown> = {
    version: 2,
    width: h.width,
    height: h.height,
    timestamp: Math.floor(startMs / 1000),
    title: h.title,
    env: { TERM: h.term ?? 'xterm' },
  };
  if (h.command !== undefined) header.command = h.command;
  return JSON.stringify(header) + '\n';
}

/** A JS string as the byte string of its UTF-8 encoding. */
const byteString = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** Valid UTF-8 bytes as a byte string, invalid sequences replaced by U+FFFD. */
function bytesOf(b: Buffer): string {
  return isUtf8(b) ? b.toString('latin1') : byteString(b.toString('utf8'));
}

export class AsciicastEncoder {
  // One per stream, kept across batches: a character split between two chunks (or two
  // flushes) is completed by the next chunk of the same stream instead of becoming U+FFFD.
  private readonly tails = [new Utf8Tail(), new Utf8Tail()];

  constructor(
    private readonly startMs: number,
    private readonly coalesceMs: number,
  ) {}

  /** Appends the lines (byte strings, without their "\n") for a batch to `out`, merging same-kind chunks that
   *  arrived within coalesceMs of the first. Output/input items are Buffers, resize and marker
   *  items strings. */
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
      // bytes are concatenated first: JSON.stringify on a concatenated (rope) string is several
      // times slower than on a flat one.
      let j = i + 1;
      let size = item.length;
      while (j < data.length && kinds[j] === kind && times[j]! - t <= this.coalesceMs && size + (data[j] as Buffer).length <= MAX_MERGE) {
        size += (data[j] as Buffer).length;
        j++;
      }
      const bytes = this.tails[kind]!.take(j === i + 1 ? [item] : (data.slice(i, j) as Buffer[]), size);
      if (bytes.length > 0) out.push(this.byteLine(t, kind, bytesOf(bytes)));
      i = j;
    }
  }

  /** At the end of the recording: bytes of an unfinished UTF-8 sequence, as U+FFFD. */
  end(t: number, out: string[]): void {
    for (const kind of [OUT, IN]) {
      const rest = this.tails[kind]!.rest();
      if (rest) out.push(this.byteLine(t, kind, bytesOf(rest)));
    }
  }

  /** An event line for a JS string (resize, marker), as a byte string. */
  private line(t: number, kind: number, s: string): string {
    return byteString(this.byteLine(t, kind, s));
  }

  /** An event line whose text is already a byte string (or plain ASCII). */
  private byteLine(t: number, kind: number, bytes: string): string {
    // Microsecond precision, without float noise such as 0.30000000000000004.
    const seconds = Math.max(0, Math.round((t - this.startMs) * 1000) / 1e6);
    return JSON.stringify([seconds, CODES[kind], bytes]);
  }
}

/** The bytes of a batch of lines (byte strings), each ended by "\n" here: `line + '\n'` would
 *  be a rope V8 has to flatten (copy) before writing it. */
export function toBuffer(lines: readonly string[], allocate: (size: number) => Buffer = Buffer.allocUnsafe): Buffer {
  let size = lines.length;
  for (const l of lines) size += l.length;
  const buf = allocate(size);
  let at = 0;
  for (const l of lines) {
    at += buf.write(l, at, 'latin1');
    buf[at++] = 0x0a;
  }
  return buf;
}
