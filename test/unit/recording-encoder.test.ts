import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { AsciicastEncoder, IN, OUT, toBuffer } from '../../src/recording/asciicast-encoder.js';

/** Deterministic bytes: mostly text (ASCII, escapes, 2-4 byte UTF-8), some invalid UTF-8. */
function stream(seed: number, size: number, invalid: boolean): Buffer {
  let s = seed;
  const rand = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const pieces = ['plain words ', '\r\n', '\x1b[1;32m', '"', '\\', '\t', '\x00', '\x7f', 'é', '→', '✓', '😀', 'ü'];
  const bad = [[0xff], [0xc0, 0x80], [0xe2, 0x82], [0xf0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xf5, 0x81]];
  const out: Buffer[] = [];
  let n = 0;
  while (n < size) {
    const b = invalid && rand(10) === 0 ? Buffer.from(bad[rand(bad.length)]!) : Buffer.from(pieces[rand(pieces.length)]!, 'utf8');
    out.push(b);
    n += b.length;
  }
  return Buffer.concat(out);
}

/** Cuts `b` at random places (1..40 bytes), so characters are split between chunks. */
function cut(b: Buffer, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let s = seed;
  for (let at = 0; at < b.length; ) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const len = 1 + ((s >>> 8) % 40);
    chunks.push(b.subarray(at, at + len));
    at += len;
  }
  return chunks;
}

/** Encodes the chunks in batches of `per`, 10 ms apart (no merging unless coalesceMs says). */
function encodeAll(chunks: Buffer[], per: number, coalesceMs: number, kind = OUT): Buffer {
  const enc = new AsciicastEncoder(0, coalesceMs);
  const lines: string[] = [];
  for (let i = 0; i < chunks.length; i += per) {
    const batch = chunks.slice(i, i + per);
    enc.encode(batch, batch.map((_, k) => (i + k) * 10), batch.map(() => kind), lines);
  }
  enc.end(chunks.length * 10, lines);
  return toBuffer(lines);
}

const textOf = (cast: Buffer): string =>
  cast.toString('utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as [number, string, string])[2]).join('');

describe('AsciicastEncoder', () => {
  for (const invalid of [false, true]) {
    for (const [per, coalesceMs] of [[1, 0], [7, 0], [50, 100]] as const) {
      it(`records what a decoder of the whole stream reads (${invalid ? 'with' : 'no'} invalid UTF-8, batches of ${per}, coalesce ${coalesceMs} ms)`, () => {
        for (let seed = 1; seed <= 20; seed++) {
          const all = stream(seed, 3000, invalid);
          const cast = encodeAll(cut(all, seed * 7), per, coalesceMs);
          expect(isUtf8(cast)).toBe(true); // JSON text must be UTF-8, whatever the target sent
          expect(textOf(cast)).toBe(all.toString('utf8'));
        }
      });
    }
  }

  it('writes a valid UTF-8 chunk as the same bytes JSON.stringify + UTF-8 would', () => {
    const text = 'a "b" \\ c\t\x1b[0m é→✓😀 \x7f\x00\r\n';
    const lines: string[] = [];
    new AsciicastEncoder(0, 5).encode([Buffer.from(text, 'utf8')], [1500], [OUT], lines);
    expect(toBuffer(lines).equals(Buffer.from(JSON.stringify([1.5, 'o', text]) + '\n', 'utf8'))).toBe(true);
  });

  it('keeps input and output apart: a character cut in one stream is not completed by the other', () => {
    const enc = new AsciicastEncoder(0, 0);
    const e = Buffer.from('é', 'utf8');
    const lines: string[] = [];
    enc.encode([e.subarray(0, 1), Buffer.from('x'), e.subarray(1)], [0, 10, 20], [OUT, IN, OUT], lines);
    enc.end(30, lines);
    const events = toBuffer(lines).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(events).toEqual([[0.01, 'i', 'x'], [0.02, 'o', 'é']]); // at the time the character was complete
  });

  it('ends an unfinished character as U+FFFD, and marker text outside Latin-1 intact', () => {
    const enc = new AsciicastEncoder(0, 0);
    const lines: string[] = [];
    enc.encode([Buffer.from([0x41, 0xe2, 0x82]), 'warden: gap → 5 bytes'], [0, 10], [OUT, 3], lines);
    enc.end(20, lines);
    const events = toBuffer(lines).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(events).toEqual([[0, 'o', 'A'], [0.01, 'm', 'warden: gap → 5 bytes'], [0.02, 'o', '\ufffd']]);
  });
});
