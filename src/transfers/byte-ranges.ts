/**
 * The bytes of one file that went by, as a set of ranges: a client may read or write the same
 * range twice (paramiko re-requests a prefetched block it has not received yet; a resumed put
 * rewrites its last block), and the audit record gives the file's bytes, not the traffic. The
 * common case — blocks in order, or a few out of order — stays one or two ranges. A hostile
 * pattern (every other block) is bounded: past MAX_RANGES the two closest ranges are merged,
 * which can only count the gap between them in, never lose bytes that went by.
 */
const MAX_RANGES = 256;

export class ByteRanges {
  /** Disjoint, non-adjacent [start, end) pairs, sorted by start. */
  private readonly ranges: Array<[number, number]> = [];

  add(offset: number, length: number): void {
    if (length <= 0) return;
    const start = offset;
    const end = offset + length;
    const r = this.ranges;
    const last = r[r.length - 1];
    // Sequential transfers: extend or append at the end without a search.
    if (!last || start > last[1]) {
      r.push([start, end]);
    } else if (start >= last[0]) {
      last[1] = Math.max(last[1], end);
    } else {
      this.insert(start, end);
    }
    if (r.length > MAX_RANGES) this.mergeClosest();
  }

  /** Bytes covered. */
  total(): number {
    let sum = 0;
    for (const [s, e] of this.ranges) sum += e - s;
    return sum;
  }

  private insert(start: number, end: number): void {
    const r = this.ranges;
    let i = 0;
    while (i < r.length && r[i]![1] < start) i++;
    let s = start;
    let e = end;
    let j = i;
    while (j < r.length && r[j]![0] <= e) {
      s = Math.min(s, r[j]![0]);
      e = Math.max(e, r[j]![1]);
      j++;
    }
    r.splice(i, j - i, [s, e]);
  }

  private mergeClosest(): void {
    const r = this.ranges;
    let best = 0;
    for (let i = 1; i < r.length - 1; i++) if (r[i + 1]![0] - r[i]![1] < r[best + 1]![0] - r[best]![1]) best = i;
    r.splice(best, 2, [r[best]![0], r[best + 1]![1]]);
  }
}
