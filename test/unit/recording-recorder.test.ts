import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AsciicastRecorder, type RecorderOptions } from '../../src/recording/asciicast-recorder.js';
import { GENESIS, nextLink, sha256Hex } from '../../src/recording/hash-chain.js';
import { verifyRecording } from '../../src/recording/verify.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-rec-'));
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

const START = 1_700_000_000_123;

/** Each test runs twice: encoding on the recording worker thread (the default) and inline. */
let offload = true;

function recorder(extra: Partial<RecorderOptions> = {}) {
  let clock = START;
  const file = join(dir, 's.cast');
  const rec = new AsciicastRecorder({ file, width: 80, height: 24, term: 'xterm-256color', title: 'alice@web1', now: () => clock, offload, ...extra });
  return { rec, file, at: (ms: number) => (clock = START + ms) };
}

async function lines(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true); // complete lines only
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as unknown);
}

describe.each([true, false])('AsciicastRecorder (offload %s)', (off) => {
  beforeEach(() => {
    offload = off;
  });

  it('writes the header and output events with times from the injected clock', async () => {
    const { rec, file, at } = recorder({ command: 'bash -l' });
    at(250);
    rec.output(Buffer.from('hello '));
    at(1500);
    rec.output(Buffer.from('world\r\n'));
    at(2000);
    rec.resize(100, 30);
    at(2500);
    const summary = await rec.close();
    const [header, ...events] = await lines(file);
    expect(header).toEqual({
      version: 2,
      width: 80,
      height: 24,
      timestamp: Math.floor(START / 1000),
      title: 'alice@web1',
      env: { TERM: 'xterm-256color' },
      command: 'bash -l',
    });
    expect(events).toEqual([
      [0.25, 'o', 'hello '],
      [1.5, 'o', 'world\r\n'],
      [2, 'r', '100x30'],
    ]);
    expect(summary.durationMs).toBe(2500);
  });

  it('records input only when asked to', async () => {
    for (const recordInput of [false, true]) {
      await rm(join(dir, 's.cast'), { force: true });
      await rm(join(dir, 's.cast.chain'), { force: true });
      const { rec, file, at } = recorder({ recordInput });
      at(100);
      rec.input(Buffer.from('ls\r'));
      at(200);
      rec.output(Buffer.from('ls\r\n'));
      await rec.close();
      const events = (await lines(file)).slice(1);
      expect(events).toEqual(recordInput ? [[0.1, 'i', 'ls\r'], [0.2, 'o', 'ls\r\n']] : [[0.2, 'o', 'ls\r\n']]);
    }
  });

  it('keeps a UTF-8 character split across chunks and flushes intact', async () => {
    const { rec, file, at } = recorder();
    const bytes = Buffer.from('é€', 'utf8'); // c3 a9 e2 82 ac
    at(10);
    rec.output(bytes.subarray(0, 1));
    await rec.flush();
    at(100);
    rec.output(bytes.subarray(1, 3));
    await rec.flush();
    at(200);
    rec.output(bytes.subarray(3));
    await rec.close();
    const text = (await lines(file)).slice(1).map((e) => (e as [number, string, string])[2]).join('');
    expect(text).toBe('é€');
    expect(text).not.toContain('\ufffd');
  });

  it('merges chunks of one kind that arrive within coalesceMs, keeps the first time', async () => {
    const { rec, file, at } = recorder({ coalesceMs: 5 });
    at(1000);
    rec.output(Buffer.from('a'));
    at(1003);
    rec.output(Buffer.from('b'));
    at(1020);
    rec.output(Buffer.from('c'));
    await rec.close();
    expect((await lines(file)).slice(1)).toEqual([[1, 'o', 'ab'], [1.02, 'o', 'c']]);
  });

  it('writes one chunk per flush however many chunks arrived, and chains them', async () => {
    const { rec, file, at } = recorder();
    for (let i = 0; i < 1000; i++) {
      at(i * 10);
      rec.output(Buffer.from(`line ${i}\r\n`));
    }
    await rec.flush();
    expect((await lines(file)).length).toBe(1001); // header + 1000 events (10 ms apart: no merging)
    at(20_000);
    rec.output(Buffer.from('bye'));
    const summary = await rec.close();

    const cast = await readFile(file);
    const chain = (await readFile(`${file}.chain`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(chain.map((c) => c.seq)).toEqual([0, 1, 2]); // header, the batch of 1000, 'bye'
    let prev = GENESIS;
    let offset = 0;
    for (const c of chain) {
      const bytes = cast.subarray(offset, offset + (c.length as number));
      expect(c.offset).toBe(offset);
      expect(c.sha256).toBe(sha256Hex(bytes));
      prev = nextLink(prev, sha256Hex(bytes));
      expect(c.chain).toBe(prev);
      offset += c.length as number;
    }
    expect(offset).toBe(cast.length);
    expect(summary).toMatchObject({ file, chainFile: `${file}.chain`, bytes: cast.length, chunks: 3, chainHead: prev, droppedBytes: 0 });
    expect(await verifyRecording(file, { expectedHead: summary.chainHead })).toMatchObject({ ok: true, chunks: 3 });
  });

  it('leaves a valid asciicast prefix after every flush', async () => {
    const { rec, file, at } = recorder();
    for (let i = 1; i <= 3; i++) {
      at(i * 100);
      rec.output(Buffer.from(`part ${i}\r\n`));
      await rec.flush();
      const all = await lines(file);
      expect(all).toHaveLength(1 + i);
      expect(await verifyRecording(file)).toMatchObject({ ok: true, chunks: 1 + i });
    }
    await rec.close();
  });

  it('flushes from an unref’d interval timer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { rec, file } = recorder({ flushIntervalMs: 1000 });
    const flush = vi.spyOn(rec, 'flush');
    rec.output(Buffer.from('tick'));
    vi.advanceTimersByTime(999);
    expect(flush).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(flush).toHaveBeenCalledTimes(1);
    await flush.mock.results[0]!.value;
    expect((await lines(file)).slice(1)).toEqual([[0, 'o', 'tick']]);
    await rec.close();
    vi.advanceTimersByTime(5000);
    expect(flush).toHaveBeenCalledTimes(1); // the timer stops at close
  });

  it('flushes early, off the calling stack, once maxBufferedBytes is exceeded', async () => {
    const { rec } = recorder({ maxBufferedBytes: 1024 });
    const flush = vi.spyOn(rec, 'flush');
    rec.output(Buffer.alloc(600, 0x61));
    rec.output(Buffer.alloc(600, 0x62));
    expect(flush).not.toHaveBeenCalled(); // not inline in output()
    await new Promise((resolve) => setImmediate(resolve));
    expect(flush).toHaveBeenCalledTimes(1);
    await rec.close();
  });

  it('signals backpressure above pauseAboveBytes and drains without losing data', async () => {
    const { rec, file } = recorder({ maxBufferedBytes: 100, pauseAboveBytes: 400 });
    for (let i = 0; i < 3; i++) rec.output(Buffer.alloc(100, 0x61 + i));
    expect(rec.backlogged).toBe(false);
    rec.output(Buffer.alloc(100, 0x64));
    expect(rec.backlogged).toBe(true);
    await rec.drained();
    expect(rec.backlogged).toBe(false);
    await rec.drained(); // already drained: resolves at once
    const summary = await rec.close();
    expect(summary.droppedBytes).toBe(0);
    const text = (await lines(file)).slice(1).map((e) => (e as [number, string, string])[2]).join('');
    expect(text).toBe('a'.repeat(100) + 'b'.repeat(100) + 'c'.repeat(100) + 'd'.repeat(100));
  });

  it('drops chunks beyond the hard limit, marks the gap in the recording and reports it', async () => {
    const gaps: number[] = [];
    const { rec, file } = recorder({ maxBufferedBytes: 1 << 20, hardLimitBytes: 10, onGap: (bytes) => gaps.push(bytes) });
    rec.output(Buffer.from('12345678'));
    rec.output(Buffer.from('abcdef')); // would exceed 10 bytes buffered
    const summary = await rec.close();
    expect(summary.droppedBytes).toBe(6);
    expect(gaps).toEqual([6]); // once, for the audit event
    expect((await lines(file)).slice(1)).toEqual([
      [0, 'o', '12345678'],
      [0, 'm', 'warden: 6 bytes not recorded (recorder overloaded)'],
    ]);
  });

  it('never overwrites an existing recording; close() rejects and onError is told', async () => {
    const file = join(dir, 's.cast');
    await writeFile(file, 'precious');
    const errors: Error[] = [];
    const { rec } = recorder({ onError: (e) => errors.push(e) });
    rec.output(Buffer.from('x'));
    await expect(rec.close()).rejects.toThrow(/EEXIST/);
    expect(errors).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe('precious');
  });
});
