/**
 * Finalizes a finished recording for storage: gzip the .cast (streaming, so a large recording
 * never sits in memory), hash the .gz, then remove the plain .cast. The .chain stays beside it
 * uncompressed; verifyRecording() checks the .gz's decompressed content against it.
 *
 * Safe to run twice (a BullMQ job can be retried after a stall): the .gz is written under a
 * temporary name, synced and renamed into place before the .cast is removed, and a second run
 * that finds only the .gz returns its hash.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { PRIVATE_FILE } from '../private-files.js';

export interface FinalizedRecording {
  gzFile: string;
  /** SHA-256 (hex) of the .gz file's bytes. */
  sha256: string;
  /** Size of the .gz file. */
  bytes: number;
}

export async function finalizeRecording(castFile: string): Promise<FinalizedRecording> {
  if (castFile.endsWith('.gz')) throw new Error(`${castFile}: expected the plain .cast, not a .gz`);
  const gzFile = `${castFile}.gz`;
  if (!(await exists(castFile))) {
    if (await exists(gzFile)) return hashFile(gzFile); // finalized by an earlier run
    throw new Error(`${castFile}: no such recording`);
  }
  const tmp = `${gzFile}.tmp`;
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // Large pieces: with the defaults (64 KiB reads, 16 KiB zlib output chunks) the JS around each
  // piece cost the relay's thread more than a recorded session's encoding did (--cpu-prof).
  await pipeline(createReadStream(castFile, { highWaterMark: 1024 * 1024 }), createGzip({ chunkSize: 256 * 1024 }), tap, createWriteStream(tmp, { mode: PRIVATE_FILE }));
  // The .cast is deleted next: the .gz must be on disk, not in the page cache, before that.
  const fh = await open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, gzFile);
  await unlink(castFile);
  return { gzFile, sha256: hash.digest('hex'), bytes };
}

async function hashFile(file: string): Promise<FinalizedRecording> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { gzFile: file, sha256: hash.digest('hex'), bytes };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
