/** The ranges of a file that went by: repeats count once, and the range list stays bounded. */
import { describe, expect, it } from 'vitest';
import { ByteRanges } from '../../src/transfers/byte-ranges.js';

const covered = (ops: Array<[number, number]>): number => {
  const r = new ByteRanges();
  for (const [o, l] of ops) r.add(o, l);
  return r.total();
};

describe('ByteRanges', () => {
  it('counts in-order, repeated, overlapping and out-of-order blocks by the bytes they cover', () => {
    expect(covered([[0, 10], [10, 10], [20, 5]])).toBe(25);
    expect(covered([[0, 10], [0, 10], [5, 10]])).toBe(15);
    expect(covered([[20, 10], [0, 10], [10, 10]])).toBe(30);
    expect(covered([[0, 10], [30, 10], [15, 20]])).toBe(35);
    expect(covered([[0, 0], [5, 0]])).toBe(0);
  });

  it('a hostile pattern (every other block) stays bounded and never counts fewer bytes than went by', () => {
    const r = new ByteRanges();
    for (let i = 0; i < 10_000; i++) r.add(i * 20, 10);
    expect(r.total()).toBeGreaterThanOrEqual(100_000);
    expect((r as unknown as { ranges: unknown[] }).ranges.length).toBeLessThanOrEqual(256);
  });
});
