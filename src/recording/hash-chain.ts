/**
 * The hash chain written beside a recording (`<name>.cast.chain`), shared by the recorder and the
 * verifier so both agree on one format.
 *
 * Every flush of the recorder appends one "chunk" of complete asciicast lines to the .cast and one
 * JSON line here: where the chunk sits, its SHA-256, and `chain = sha256(prevChain + sha256)`
 * over the hex strings, starting from GENESIS for chunk 0 (the header line). Per-chunk hashes let
 * the verifier name the chunk that was modified, deleted or moved; the chain makes the .chain file
 * itself tamper-evident once its last link (the head, in the recording summary) is stored
 * somewhere the attacker cannot write, e.g. the session record.
 */
import { createHash } from 'node:crypto';
import * as z from '../zod.js';

export const GENESIS = '0'.repeat(64);

/** z.int() is a safe integer: a larger count cannot come from a real file. */
const count = z.int().check(z.nonnegative());
const hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'not 64 hex digits'));

/** One line of a .chain file, as stored. */
export const chainEntrySchema = z.object({
  seq: count,
  /** Byte offset of the chunk in the uncompressed .cast. */
  offset: count,
  length: count,
  sha256: hex64,
  chain: hex64,
});
export type ChainEntry = z.infer<typeof chainEntrySchema>;

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function nextLink(prevChain: string, chunkSha: string): string {
  return sha256Hex(prevChain + chunkSha);
}

/** `x.cast` and `x.cast.gz` share `x.cast.chain`: finalizing compresses the cast, not the chain. */
export function chainFileOf(castFile: string): string {
  return castFile.replace(/\.gz$/, '') + '.chain';
}

export function formatEntry(e: ChainEntry): string {
  return JSON.stringify({ seq: e.seq, offset: e.offset, length: e.length, sha256: e.sha256, chain: e.chain }) + '\n';
}

/** Parses one line of a .chain file; returns a reason string when it is not a well-formed entry. */
export function parseEntry(line: string): ChainEntry | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const parsed = chainEntrySchema.safeParse(v);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return issue.path.length ? `bad ${issue.path.join('.')}` : 'not an object';
}
