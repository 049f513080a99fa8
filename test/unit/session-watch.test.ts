/**
 * The owner's publisher for a watched session (src/watch/session-watch.ts) with a fake
 * publish and fake timers: output is batched (one message per event-loop turn, copied out of
 * the relay's buffers), only the followed terminal is shown, a backed-up Redis makes it drop
 * and resync instead of buffering, a screen is never overtaken by output, and the watch moves
 * to the next terminal when its channel closes. Also the frame codec and the CLI's leave keys.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChannelRelay } from '../../src/channel-relay.js';
import { createLogger } from '../../src/logger.js';
import { MAX_IN_FLIGHT, RESYNC_EVERY_MS, SessionWatch, type Watchable } from '../../src/watch/session-watch.js';
import { decodeFrame, encodeFrame, EVERYONE, type WatchFrame } from '../../src/watch/watch-frames.js';
import { isLeaveKey } from '../../src/watch/watch-terminal.js';

const log = createLogger({ level: 'silent' });

function relay(n: number, cols = 80, rows = 24): ChannelRelay {
  return { n, kind: 'shell', pty: { term: 'xterm', cols, rows, width: 0, height: 0, modes: {} }, say: vi.fn(() => true) } as unknown as ChannelRelay;
}

function harness(terminals: ChannelRelay[], recent = Buffer.from('$ ls\r\nfile\r\n$ '), render?: ConstructorParameters<typeof SessionWatch>[3]) {
  const frames: WatchFrame[] = [];
  const pending: Array<() => void> = [];
  let hold = false;
  const target: Watchable = { terminals: () => terminals, recentOutput: () => recent };
  const publish = (b: Buffer) => {
    frames.push(decodeFrame(Buffer.from(b))!);
    return hold ? new Promise<void>((resolve) => pending.push(resolve)) : Promise.resolve();
  };
  const watch = new SessionWatch(target, publish, log, render);
  return {
    watch,
    frames,
    outputs: () => frames.filter((f) => f.type === 'output').map((f) => (f as { data: Buffer }).data.toString()).join(''),
    holdPublishes: (on: boolean) => (hold = on),
    releaseAll: () => pending.splice(0).forEach((r) => r()),
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SessionWatch', () => {
  it('publishes one message per event-loop turn, with copies of the chunks', async () => {
    const t = relay(1);
    const h = harness([t]);
    for (let i = 0; i < 100; i++) {
      const chunk = Buffer.from(`k${i % 10}`);
      h.watch.output(t, chunk);
      chunk.fill(0x5a); // ssh2 reuses its buffers: what is published must not change with them
    }
    expect(h.frames).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(5);
    expect(h.frames).toHaveLength(1);
    expect(h.outputs()).toBe(Array.from({ length: 100 }, (_, i) => `k${i % 10}`).join(''));
  });

  it('shows only the lowest-numbered terminal, and moves to the next one with a fresh screen when it closes', async () => {
    const [one, two] = [relay(1), relay(2, 120, 40)];
    const terminals = [one, two];
    const h = harness(terminals);
    expect(h.watch.channel).toBe(one);
    h.watch.output(two, Buffer.from('other channel'));
    h.watch.output(one, Buffer.from('shown'));
    await vi.advanceTimersByTimeAsync(5);
    expect(h.outputs()).toBe('shown');
    terminals.shift();
    h.watch.closed(one);
    await vi.advanceTimersByTimeAsync(50);
    expect(h.watch.channel).toBe(two);
    expect(h.frames.at(-1)).toMatchObject({ type: 'screen', for: EVERYONE, cols: 120, rows: 40 });
  });

  it('drops output and resyncs with a screen when Redis falls behind, never holding more than its bound', async () => {
    const t = relay(1);
    const h = harness([t]);
    h.holdPublishes(true);
    for (let i = 0; i < 200; i++) {
      h.watch.output(t, Buffer.alloc(40_000, 0x61)); // a flood: 8 MB while Redis answers nothing
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(h.frames.length).toBe(MAX_IN_FLIGHT); // the in-flight bound; the rest was dropped
    expect(h.watch.dropped).toBeGreaterThan(0);
    h.holdPublishes(false);
    h.releaseAll();
    await vi.advanceTimersByTimeAsync(50);
    expect(h.frames.at(-1)).toMatchObject({ type: 'screen', for: EVERYONE });
    h.watch.output(t, Buffer.from('after resync'));
    await vi.advanceTimersByTimeAsync(5);
    expect(h.frames.at(-1)).toMatchObject({ type: 'output' });
    expect(h.outputs().endsWith('after resync')).toBe(true);
  });

  it('draws fresh screens after drops at most every RESYNC_EVERY_MS, however often Redis falls behind', async () => {
    const t = relay(1);
    const h = harness([t]);
    const screens = () => h.frames.filter((f) => f.type === 'screen').length;
    const floodUntilDrop = async () => {
      h.holdPublishes(true);
      const dropped = h.watch.dropped;
      while (h.watch.dropped === dropped) {
        h.watch.output(t, Buffer.alloc(40_000, 0x61));
        await vi.advanceTimersByTimeAsync(1);
      }
      h.holdPublishes(false);
      h.releaseAll();
    };
    await floodUntilDrop();
    await vi.advanceTimersByTimeAsync(1);
    expect(screens()).toBe(1); // the first resync is not delayed
    await floodUntilDrop();
    await vi.advanceTimersByTimeAsync(RESYNC_EVERY_MS / 2);
    expect(screens()).toBe(1); // a second drop soon after waits
    h.watch.output(t, Buffer.from('ignored until the screen'));
    await vi.advanceTimersByTimeAsync(RESYNC_EVERY_MS / 2);
    expect(screens()).toBe(2);
    expect(h.frames.at(-1)).toMatchObject({ type: 'screen', for: EVERYONE });
    expect(h.outputs()).not.toContain('ignored');
  });

  it('sends a screen before any output that arrived while it was being drawn', async () => {
    const t = relay(1);
    let finishDrawing!: () => void;
    const h = harness([t], Buffer.from('file'), (recent) => new Promise((resolve) => (finishDrawing = () => resolve(Buffer.concat([Buffer.from('SCREEN:'), recent])))));
    const drawn = h.watch.screen('w1');
    h.watch.output(t, Buffer.from('typed meanwhile'));
    await vi.advanceTimersByTimeAsync(20); // many event-loop turns pass while the screen is drawn
    expect(h.frames).toEqual([]);
    finishDrawing();
    await drawn;
    await vi.advanceTimersByTimeAsync(5);
    expect(h.frames.map((f) => f.type)).toEqual(['screen', 'output']);
    expect(h.frames[0]).toMatchObject({ for: 'w1', cols: 80, rows: 24 });
    expect((h.frames[0] as { data: Buffer }).data.toString()).toContain('file');
  });

  it('forwards resizes of its terminal (clamped) and sends nothing after the end', async () => {
    const t = relay(1);
    const h = harness([t]);
    t.pty!.cols = 65535;
    t.pty!.rows = 30;
    h.watch.resize(t);
    expect(h.frames.at(-1)).toMatchObject({ type: 'resize', rows: 30 });
    expect((h.frames.at(-1) as { cols: number }).cols).toBeLessThan(65535);
    h.watch.end('session ended: bye');
    h.watch.output(t, Buffer.from('late'));
    await vi.advanceTimersByTimeAsync(5);
    expect(h.frames.at(-1)).toEqual({ type: 'end', reason: 'session ended: bye' });
  });
});

describe('watch frames and keys', () => {
  it('round-trips every frame, and rejects malformed ones', () => {
    const frames: WatchFrame[] = [
      { type: 'screen', cols: 100, rows: 30, for: 'abc', data: Buffer.from('\x1b[Hhi') },
      { type: 'output', data: Buffer.from([0, 1, 2, 0xff]) },
      { type: 'resize', cols: 1, rows: 2 },
      { type: 'end', reason: 'done' },
    ];
    for (const f of frames) expect(decodeFrame(encodeFrame(f))).toEqual(f);
    expect(decodeFrame(Buffer.from('S\x00'))).toBeUndefined();
    expect(decodeFrame(Buffer.from('Rxx'))).toBeUndefined();
    expect(decodeFrame(Buffer.alloc(0))).toBeUndefined();
  });

  it('leaves on q or Ctrl-C, not on a terminal reply that contains a q', () => {
    expect(isLeaveKey(Buffer.from('q'))).toBe(true);
    expect(isLeaveKey(Buffer.from('\x03'))).toBe(true);
    expect(isLeaveKey(Buffer.from('\x1bP1$r0;1q\x1b\\'))).toBe(false);
    expect(isLeaveKey(Buffer.from('x'))).toBe(false);
  });
});
