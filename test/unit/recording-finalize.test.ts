import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AsciicastRecorder } from '../../src/recording/asciicast-recorder.js';
import { finalizeRecording } from '../../src/recording/finalize.js';
import { sha256Hex } from '../../src/recording/hash-chain.js';
import { verifyRecording } from '../../src/recording/verify.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-fin-'));
  file = join(dir, 's.cast');
  let clock = 0;
  const rec = new AsciicastRecorder({ file, width: 80, height: 24, title: 't', now: () => clock });
  for (let i = 0; i < 200; i++) {
    clock += 50;
    rec.output(Buffer.from(`${i}: ${'x'.repeat(i % 70)}\r\n`));
    if (i % 50 === 49) await rec.flush();
  }
  await rec.close();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = (f: string) => stat(f).then(() => true, () => false);

describe('finalizeRecording', () => {
  it('gzips the cast, hashes the gz, keeps the chain and removes the plain cast', async () => {
    const original = await readFile(file);
    const chain = await readFile(`${file}.chain`, 'utf8');
    const result = await finalizeRecording(file);
    const gz = await readFile(result.gzFile);
    expect(result).toEqual({ gzFile: `${file}.gz`, sha256: sha256Hex(gz), bytes: gz.length });
    expect(gunzipSync(gz).equals(original)).toBe(true);
    expect(gz.length).toBeLessThan(original.length);
    expect(await exists(file)).toBe(false);
    expect(await exists(`${file}.gz.tmp`)).toBe(false);
    expect(await readFile(`${file}.chain`, 'utf8')).toBe(chain);
    expect(await verifyRecording(result.gzFile)).toMatchObject({ ok: true, chunks: 5 });
  });

  it('is idempotent: a second run returns the same gz and hash', async () => {
    const first = await finalizeRecording(file);
    expect(await finalizeRecording(file)).toEqual(first);
  });

  it('redoes the work when a crash left both the cast and a stale gz', async () => {
    await writeFile(`${file}.gz`, 'half-written garbage');
    const result = await finalizeRecording(file);
    expect(gunzipSync(await readFile(result.gzFile)).length).toBeGreaterThan(0);
    expect(await verifyRecording(result.gzFile)).toMatchObject({ ok: true });
  });

  it('fails on a recording that does not exist, or on a .gz path', async () => {
    await expect(finalizeRecording(join(dir, 'nope.cast'))).rejects.toThrow(/no such recording/);
    await expect(finalizeRecording(`${file}.gz`)).rejects.toThrow(/plain \.cast/);
  });
});
