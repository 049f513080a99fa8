/**
 * The recording worker thread gives exactly the bytes and hashes that encoding inline gives,
 * batch after batch (a UTF-8 character cut between batches included). Needs the build
 * (`npm test` builds first): the worker runs the compiled module, and the first test fails
 * rather than quietly testing the inline codec twice when there is none.
 */
import { describe, expect, it } from 'vitest';
import { InlineCodec, type Batch } from '../../src/recording/batch-codec.js';
import { codecFor } from '../../src/recording/recording-offload.js';
import { IN, MARK, OUT, RESIZE } from '../../src/recording/asciicast-encoder.js';

function batches(seed: number): Batch[] {
  let s = seed;
  const rand = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const text = Buffer.from('build ok \x1b[32m✓\x1b[0m "q" \\ é→😀\r\n'.repeat(200), 'utf8');
  const out: Batch[] = [];
  let at = 0;
  let t = 0;
  for (let b = 0; b < 12; b++) {
    const data: Array<Buffer | string> = [];
    const times: number[] = [];
    const kinds: number[] = [];
    for (let i = 0, n = 1 + rand(6); i < n; i++) {
      t += rand(8);
      const r = rand(10);
      if (r === 0) {
        data.push(`${80 + rand(40)}x${24 + rand(10)}`);
        kinds.push(RESIZE);
      } else if (r === 1) {
        data.push('warden: a marker → here');
        kinds.push(MARK);
      } else {
        const len = 1 + rand(300);
        data.push(text.subarray(at % 4000, (at % 4000) + len)); // cuts characters anywhere
        at += len;
        kinds.push(r === 2 ? IN : OUT);
      }
      times.push(t);
    }
    out.push({ data, times, kinds, final: b === 11, endAt: t });
  }
  return out;
}

describe('recording worker thread', () => {
  it('encodes off the calling thread exactly what inline encoding gives', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const offloaded = codecFor(1000, 5, true);
      expect(offloaded).not.toBeInstanceOf(InlineCodec);
      const inline = new InlineCodec(1000, 5);
      for (const batch of batches(seed)) {
        const [a, b] = [await offloaded.encode(batch), await inline.encode(batch)];
        expect(a?.sha256).toBe(b?.sha256);
        expect(a && b && a.chunk.equals(b.chunk)).toBe(true);
      }
    }
  });

  it('keeps recordings apart: two interleaved recordings each get their own UTF-8 state', async () => {
    const [x, y] = [codecFor(0, 0, true), codecFor(0, 0, true)];
    const e = Buffer.from('€', 'utf8');
    const one = (d: Buffer, final = false) => ({ data: [d], times: [0], kinds: [OUT], final, endAt: 0 });
    await x.encode(one(e.subarray(0, 1)));
    await y.encode(one(Buffer.from('a')));
    const rx = await x.encode(one(e.subarray(1), true));
    const ry = await y.encode(one(Buffer.from('b'), true));
    expect(rx?.chunk.toString('utf8')).toBe('[0,"o","€"]\n');
    expect(ry?.chunk.toString('utf8')).toBe('[0,"o","b"]\n');
  });
});
