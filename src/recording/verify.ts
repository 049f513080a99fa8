/**
 * Checks a recording (.cast, or .cast.gz after finalizing) against its hash chain (.cast.chain)
 * and, when they disagree, names the first chunk that is out of place and how.
 *
 * 1. The .chain must be well formed and self-consistent: seq 0..n-1, contiguous offsets, every
 *    link = sha256(prev + sha). Otherwise the chain itself was edited: `chain_broken`.
 * 2. The recording is streamed once (decompressing a .gz on the fly) and each chunk's bytes
 *    hashed at the offset the chain gives. The common, intact case never holds the file in memory.
 * 3. Only on a mismatch is the recording loaded to classify it, by content: which chunk's bytes
 *    sit where chunk k belongs? None → `modified` (or `truncated` if the file just ends); a later
 *    chunk → `deleted`, unless chunk k turns up further on → `reordered`.
 *
 * A process that died between writing a chunk and its chain line leaves bytes after the last
 * chained chunk (`appended`, chunk = n); a full disk can also cut a chunk short (`truncated`).
 * `verdictOf` tells those from tampering with the chain head the registry holds.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { gunzipSync, createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { chainFileOf, GENESIS, nextLink, parseEntry, sha256Hex, type ChainEntry } from './hash-chain.js';

export type TamperProblem = 'modified' | 'deleted' | 'reordered' | 'truncated' | 'appended' | 'chain_broken';

export type VerifyResult =
  | { ok: true; chunks: number; bytes: number; chainHead: string }
  | { ok: false; chunk: number; problem: TamperProblem; detail: string };

export interface VerifyOptions {
  /** The chain head stored elsewhere at the end of the session (RecordingSummary.chainHead). */
  expectedHead?: string;
}

type Problem = Extract<VerifyResult, { ok: false }>;

const problem = (chunk: number, p: TamperProblem, detail: string): Problem => ({ ok: false, chunk, problem: p, detail });

export async function verifyRecording(castFile: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const chain = await readChain(chainFileOf(castFile));
  if (!Array.isArray(chain)) return chain;
  const last = chain[chain.length - 1]!;
  if (opts.expectedHead !== undefined && last.chain !== opts.expectedHead) {
    return problem(chain.length - 1, 'chain_broken', 'last link differs from the expected chain head (chain file replaced or cut short)');
  }
  const gz = castFile.endsWith('.gz');
  const open = (): Readable => (gz ? createReadStream(castFile).pipe(createGunzip()) : createReadStream(castFile));
  const first = await firstMismatch(open(), chain);
  if (first === null) return { ok: true, chunks: chain.length, bytes: last.offset + last.length, chainHead: last.chain };
  const raw = await readFile(castFile);
  return classify(gz ? gunzipSync(raw) : raw, chain, first);
}

async function readChain(file: string): Promise<ChainEntry[] | Problem> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return problem(0, 'chain_broken', `cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return problem(0, 'chain_broken', 'chain file is empty');
  const entries: ChainEntry[] = [];
  let prev = GENESIS;
  let offset = 0;
  for (const [i, line] of lines.entries()) {
    const e = parseEntry(line);
    if (typeof e === 'string') return problem(i, 'chain_broken', `chain line ${i + 1}: ${e}`);
    if (e.seq !== i) return problem(i, 'chain_broken', `chain line ${i + 1} has seq ${e.seq}`);
    if (e.offset !== offset) return problem(i, 'chain_broken', `chunk ${i} offset ${e.offset}, expected ${offset}`);
    if (e.chain !== nextLink(prev, e.sha256)) return problem(i, 'chain_broken', `chunk ${i} link does not follow from chunk ${i - 1}`);
    entries.push(e);
    prev = e.chain;
    offset += e.length;
  }
  return entries;
}

/** Streams the recording; returns the first chunk whose bytes do not hash right, or n when
 *  bytes follow the last chunk, or null when everything matches. */
async function firstMismatch(stream: Readable, chain: ChainEntry[]): Promise<number | null> {
  let k = 0;
  let need = chain[0]!.length;
  let hash = createHash('sha256');
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      let at = 0;
      while (at < piece.length) {
        if (k === chain.length) return k; // trailing unchained bytes
        const take = Math.min(need, piece.length - at);
        hash.update(piece.subarray(at, at + take));
        at += take;
        need -= take;
        if (need === 0) {
          if (hash.digest('hex') !== chain[k]!.sha256) return k;
          k++;
          hash = createHash('sha256');
          need = k < chain.length ? chain[k]!.length : 0;
        }
      }
    }
  } finally {
    stream.destroy();
  }
  return k === chain.length ? null : k;
}

/** Upper bound on content lookups while walking the rest of the file (each costs up to one
 *  pass over the recording's size in hashing). */
const MAX_LOOKUPS = 16;

function classify(content: Buffer, chain: ChainEntry[], k: number): Problem {
  const n = chain.length;
  const expected = chain[k];
  if (!expected) {
    const end = chain[n - 1]!.offset + chain[n - 1]!.length;
    return problem(n, 'appended', `${content.length - end} bytes after the last chained chunk (appended, or the recorder stopped between writes)`);
  }
  const pos = expected.offset;
  const bySha = new Map(chain.map((e) => [e.sha256, e.seq]));
  const lengths = [...new Set(chain.map((e) => e.length))];
  /** Which chunk's exact bytes start at p (-1: none). */
  const chunkAt = (p: number): number => {
    for (const len of lengths) {
      if (p + len > content.length) continue;
      const seq = bySha.get(sha256Hex(content.subarray(p, p + len)));
      if (seq !== undefined && chain[seq]!.length === len) return seq;
    }
    return -1;
  };

  const j = chunkAt(pos);
  if (j === -1) {
    const left = content.length - pos;
    if (left < expected.length) {
      return problem(k, 'truncated', `recording ends ${left} bytes into chunk ${k} (${expected.length} bytes expected at offset ${pos})`);
    }
    return problem(k, 'modified', `bytes at offset ${pos} do not match chunk ${k}`);
  }
  if (j < k) return problem(k, 'reordered', `offset ${pos} holds a copy of earlier chunk ${j} instead of chunk ${k}`);
  // Walk the rest: follow the expected succession, look up by content only where it breaks.
  let p = pos;
  let seq = j;
  for (let lookups = 0; seq !== -1 && lookups < MAX_LOOKUPS; ) {
    if (seq === k) return problem(k, 'reordered', `chunk ${j} is at offset ${pos} where chunk ${k} belongs; chunk ${k} was moved to offset ${p}`);
    p += chain[seq]!.length;
    const next = chain[seq + 1];
    if (next && p + next.length <= content.length && sha256Hex(content.subarray(p, p + next.length)) === next.sha256) {
      seq++;
    } else {
      seq = p < content.length ? chunkAt(p) : -1;
      lookups++;
    }
  }
  const missing = j - k === 1 ? `chunk ${k} is missing` : `chunks ${k}..${j - 1} are missing`;
  return problem(k, 'deleted', `${missing}: offset ${pos} holds chunk ${j}`);
}

export interface Verdict {
  status: 'intact' | 'incomplete' | 'tampered';
  text: string;
}

/**
 * What a verification means for an admin. A recording whose session ended cleanly has its
 * chain head in the registry: then any difference is tampering. Without one (the recorder
 * failed: disk full, crash), a valid prefix followed by a cut or an unchained tail is what a
 * stopped recorder leaves, so it is reported as incomplete, not as tampered; everything else
 * (a changed, deleted or reordered chunk) is tampering either way.
 */
export function verdictOf(res: VerifyResult, registryHead: string | undefined, recorderError?: string): Verdict {
  if (res.ok && recorderError) {
    return { status: 'incomplete', text: `the ${res.chunks} chunks written are intact, then the recorder stopped (${recorderError})` };
  }
  if (res.ok) return { status: 'intact', text: `intact (${res.chunks} chunks, ${res.bytes} bytes${registryHead ? ', chain head matches the registry' : ', no chain head in the registry yet'})` };
  const stopped = res.problem === 'truncated' || res.problem === 'appended';
  if (stopped && !registryHead) {
    const why = recorderError ? `the recorder stopped (${recorderError})` : 'the recorder failed or was killed';
    return { status: 'incomplete', text: `chunks 0..${res.chunk - 1} are intact, then the recording stops (${res.detail}); ${why}` };
  }
  return { status: 'tampered', text: `chunk ${res.chunk} ${res.problem}: ${res.detail}` };
}
