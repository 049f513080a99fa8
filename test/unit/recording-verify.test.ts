import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AsciicastRecorder } from '../../src/recording/asciicast-recorder.js';
import { finalizeRecording } from '../../src/recording/finalize.js';
import { formatEntry, GENESIS, nextLink, sha256Hex, type ChainEntry } from '../../src/recording/hash-chain.js';
import { verifyRecording } from '../../src/recording/verify.js';

let dir: string;
let file: string;
let chain: ChainEntry[];
let head: string;

/** A recording of 7 chunks (header + 6 flushes of different sizes). */
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-verify-'));
  file = join(dir, 's.cast');
  let clock = 0;
  const rec = new AsciicastRecorder({ file, width: 80, height: 24, title: 't', now: () => clock });
  for (let k = 1; k <= 6; k++) {
    for (let i = 0; i < k; i++) {
      clock += 100;
      rec.output(Buffer.from(`chunk ${k} line ${i}\r\n`));
    }
    await rec.flush();
  }
  head = (await rec.close()).chainHead;
  chain = (await readFile(`${file}.chain`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ChainEntry);
  expect(chain).toHaveLength(7);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cast(): Promise<Buffer> {
  return readFile(file);
}
const bytesOf = (data: Buffer, k: number) => data.subarray(chain[k]!.offset, chain[k]!.offset + chain[k]!.length);
const without = (data: Buffer, k: number) => Buffer.concat([data.subarray(0, chain[k]!.offset), data.subarray(chain[k]!.offset + chain[k]!.length)]);

/** Swaps chunks a < b. */
function swapped(data: Buffer, a: number, b: number): Buffer {
  const parts = chain.map((_, k) => bytesOf(data, k));
  [parts[a], parts[b]] = [parts[b]!, parts[a]!];
  return Buffer.concat(parts);
}

describe('verifyRecording', () => {
  it('accepts an untouched recording', async () => {
    const data = await cast();
    expect(await verifyRecording(file, { expectedHead: head })).toEqual({ ok: true, chunks: 7, bytes: data.length, chainHead: head });
  });

  for (const k of [0, 3, 6]) {
    it(`names chunk ${k} when one of its bytes is modified`, async () => {
      const data = await cast();
      data[chain[k]!.offset + 5]! ^= 0x01;
      await writeFile(file, data);
      expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: k, problem: 'modified' });
    });
  }

  for (const k of [1, 3, 5]) {
    it(`names chunk ${k} when its bytes are deleted`, async () => {
      await writeFile(file, without(await cast(), k));
      expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: k, problem: 'deleted' });
    });
  }

  it('names the first displaced chunk when two chunks are swapped', async () => {
    const data = await cast();
    await writeFile(file, swapped(data, 2, 5));
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 2, problem: 'reordered' });
    await writeFile(file, swapped(data, 3, 4)); // neighbours
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 3, problem: 'reordered' });
  });

  it('reports a copy of an earlier chunk spliced in as reordered', async () => {
    const data = await cast();
    const at = chain[4]!.offset;
    await writeFile(file, Buffer.concat([data.subarray(0, at), bytesOf(data, 1), data.subarray(at)]));
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 4, problem: 'reordered' });
  });

  it('reports truncation inside a chunk, and a missing last chunk', async () => {
    const data = await cast();
    await writeFile(file, data.subarray(0, chain[4]!.offset + 7));
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 4, problem: 'truncated' });
    await writeFile(file, data.subarray(0, chain[6]!.offset));
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 6, problem: 'truncated' });
  });

  it('reports bytes appended after the last chunk', async () => {
    await writeFile(file, Buffer.concat([await cast(), Buffer.from('[99.0, "o", "forged"]\n')]));
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 7, problem: 'appended' });
  });

  it('reports an edited chain file as chain_broken', async () => {
    const lines = (await readFile(`${file}.chain`, 'utf8')).split('\n');
    lines[2] = lines[2]!.replace(/"sha256":"./, (m) => m.slice(0, -1) + (m.endsWith('0') ? '1' : '0'));
    await writeFile(`${file}.chain`, lines.join('\n'));
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 2, problem: 'chain_broken' });
  });

  it('catches a consistently rewritten chain only with the expected head', async () => {
    // The attacker edits chunk 3 and recomputes every hash and link after it.
    const data = await cast();
    data[chain[3]!.offset + 5]! ^= 0x01;
    await writeFile(file, data);
    let prev = GENESIS;
    const forged = chain.map((e) => {
      const sha = sha256Hex(bytesOf(data, e.seq));
      prev = nextLink(prev, sha);
      return formatEntry({ ...e, sha256: sha, chain: prev });
    });
    await writeFile(`${file}.chain`, forged.join(''));
    expect(await verifyRecording(file)).toMatchObject({ ok: true });
    expect(await verifyRecording(file, { expectedHead: head })).toMatchObject({ ok: false, chunk: 6, problem: 'chain_broken' });
  });

  it('reports a missing chain file', async () => {
    await rm(`${file}.chain`);
    expect(await verifyRecording(file)).toMatchObject({ ok: false, chunk: 0, problem: 'chain_broken' });
  });

  it('verifies a finalized .cast.gz against the chain, and names tampering inside it', async () => {
    const { gzFile } = await finalizeRecording(file);
    expect(await verifyRecording(gzFile, { expectedHead: head })).toMatchObject({ ok: true, chunks: 7 });
    const data = gunzipSync(await readFile(gzFile));
    await writeFile(gzFile, gzipSync(without(data, 2)));
    expect(await verifyRecording(gzFile)).toMatchObject({ ok: false, chunk: 2, problem: 'deleted' });
    data[chain[5]!.offset + 3]! ^= 0x01;
    await writeFile(gzFile, gzipSync(data));
    expect(await verifyRecording(gzFile)).toMatchObject({ ok: false, chunk: 5, problem: 'modified' });
  });
});
