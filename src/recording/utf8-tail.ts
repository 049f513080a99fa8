/**
 * Keeps UTF-8 characters whole across the chunks of one stream: the bytes of a character cut
 * at the end of a chunk are held back and put in front of the next one. Replaces the
 * StringDecoder the encoder used, because the encoder no longer decodes text at all: it copies
 * valid UTF-8 through as bytes (asciicast-encoder.ts), so it needs the bytes, not a string.
 */

/** Length of the sequence a lead byte starts; 1 for ASCII, continuation and invalid bytes. */
function sequenceLength(lead: number): number {
  if (lead >= 0xf8) return 1;
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/** Where an unfinished sequence starts at the end of `b` (b.length when the end is whole). */
export function incompleteTailStart(b: Uint8Array): number {
  const n = b.length;
  // A sequence is at most 4 bytes: only the last 3 can belong to an unfinished one.
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const c = b[i]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back for its lead
    return c >= 0xc0 && i + sequenceLength(c) > n ? i : n;
  }
  return n;
}

export class Utf8Tail {
  private held: Buffer | undefined;

  /** The whole characters of `held + chunks` (total `size` bytes); holds back a cut tail. */
  take(chunks: readonly Buffer[], size: number): Buffer {
    const all = this.held ? Buffer.concat([this.held, ...chunks], this.held.length + size) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    const cut = incompleteTailStart(all);
    // Copied: a 3-byte remainder must not keep a 32 KiB packet buffer alive.
    this.held = cut < all.length ? Buffer.from(all.subarray(cut)) : undefined;
    return cut < all.length ? all.subarray(0, cut) : all;
  }

  /** At the end of the stream: what is held (an unfinished character), to be replaced by U+FFFD. */
  rest(): Buffer | undefined {
    const held = this.held;
    this.held = undefined;
    return held;
  }
}
