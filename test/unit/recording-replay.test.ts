import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type ReplayOptions } from '../../src/recording/replay.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-replay-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEADER = { version: 2, width: 80, height: 24, timestamp: 1700000000, env: { TERM: 'xterm' } };
const EVENTS = [
  [0.5, 'o', 'a'],
  [0.7, 'i', 'typed'],
  [1.5, 'r', '100x30'],
  [3.0, 'o', 'b'],
  [3.0004, 'o', 'c'],
  [13.0, 'o', 'é\r\n'],
];

function castText(header: object = HEADER, events: unknown[] = EVENTS): string {
  return [header, ...events].map((l) => JSON.stringify(l)).join('\n') + '\n';
}

async function play(file: string, opts: Partial<ReplayOptions> = {}) {
  const out = new PassThrough();
  let written = '';
  out.on('data', (d: Buffer) => (written += d.toString('utf8')));
  const sleeps: number[] = [];
  const summary = await replay(file, { out, sleep: async (ms) => void sleeps.push(Math.round(ms * 1000) / 1000), ...opts });
  return { written, sleeps, summary };
}

describe('replay', () => {
  it('writes output events only, sleeping the recorded gaps', async () => {
    const file = join(dir, 'r.cast');
    await writeFile(file, castText());
    const { written, sleeps, summary } = await play(file);
    expect(written).toBe('abcé\r\n');
    // 'c' comes 0.4 ms after 'b': too short to sleep on its own, carried into the next pause
    // (9999.6 ms + 0.4 ms), so the total stays exact.
    expect(sleeps).toEqual([500, 2500, 10000]);
    expect(summary.events).toBe(4);
  });

  it('divides pauses by speed and caps them at maxIdleSeconds', async () => {
    const file = join(dir, 'r.cast');
    await writeFile(file, castText());
    expect((await play(file, { speed: 2 })).sleeps).toEqual([250, 1250, 5000]);
    expect((await play(file, { maxIdleSeconds: 2 })).sleeps).toEqual([500, 2000, 2000.4]);
  });

  it("honours the header's idle_time_limit unless overridden", async () => {
    const file = join(dir, 'r.cast');
    await writeFile(file, castText({ ...HEADER, idle_time_limit: 1 }));
    expect((await play(file)).sleeps).toEqual([500, 1000, 1000.4]);
    expect((await play(file, { maxIdleSeconds: 5 })).sleeps).toEqual([500, 2500, 5000.4]);
  });

  it('plays a .cast.gz the same way', async () => {
    const file = join(dir, 'r.cast.gz');
    await writeFile(file, gzipSync(castText()));
    const { written, sleeps } = await play(file);
    expect(written).toBe('abcé\r\n');
    expect(sleeps).toEqual([500, 2500, 10000]);
  });

  it('skips a torn last line', async () => {
    const file = join(dir, 'r.cast');
    await writeFile(file, castText() + '[14.0, "o", "unfinish');
    expect((await play(file)).written).toBe('abcé\r\n');
  });

  it('rejects a file that is not asciicast v2, and a bad speed', async () => {
    const file = join(dir, 'r.cast');
    await writeFile(file, castText({ version: 1 }));
    await expect(play(file)).rejects.toThrow(/not an asciicast v2/);
    await writeFile(file, castText());
    await expect(play(file, { speed: 0 })).rejects.toThrow(/speed/);
  });
});
