import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CommandEntry } from '../../src/commands/command-tracker.js';
import { LazyTracker } from '../../src/commands/lazy-tracker.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('lazy command tracker', () => {
  it('has no emulator until a key, reads commands, sleeps when idle and wakes with the prompt', async () => {
    const got: CommandEntry[] = [];
    const t = new LazyTracker({ cols: 80, rows: 24, onCommand: (e) => got.push(e), holdMs: 0 });
    try {
      t.output(b('Welcome\r\nuser@host:~$ '));
      expect(t.awake).toBe(false);

      t.input(b('ls'));
      t.output(b('ls'));
      t.input(b('\r'));
      t.output(b('\r\nfile-a  file-b\r\nuser@host:~$ '));
      await t.flush();
      t.input(b('x')); // the next key releases the held command
      t.output(b('x'));
      t.input(b('\x7f'));
      t.output(b('\b \b'));
      await t.flush();
      expect(got.map((e) => e.command)).toEqual(['ls']);

      t.sleepIfIdle(0);
      expect(t.awake).toBe(true); // a line is open (x, then backspace): not quiescent

      t.input(b('\x03'));
      t.output(b('^C\r\nuser@host:~$ '));
      await t.flush();
      t.sleepIfIdle(0);
      expect(t.awake).toBe(false);

      // Woken by the next key, it replays the recent output: the prompt is known again.
      t.input(b('pwd'));
      t.output(b('pwd'));
      t.input(b('\r'));
      t.output(b('\r\n/home/user\r\nuser@host:~$ '));
      await t.flush();
      t.dispose();
      expect(got.map((e) => e.command)).toEqual(['ls', 'pwd']);
    } finally {
      t.dispose();
    }
  });

  it('never sleeps inside a full-screen program', async () => {
    const t = new LazyTracker({ cols: 80, rows: 24, onCommand: () => {}, holdMs: 0 });
    try {
      t.output(b('$ '));
      t.input(b('vi\r'));
      t.output(b('vi\r\n\x1b[?1049h~\r\n~'));
      await t.flush();
      t.sleepIfIdle(0);
      expect(t.awake).toBe(true);
    } finally {
      t.dispose();
    }
  });

  it('keeps only the last 16 KiB of output for waking', async () => {
    const got: CommandEntry[] = [];
    const t = new LazyTracker({ cols: 80, rows: 24, onCommand: (e) => got.push(e), holdMs: 0 });
    try {
      t.output(Buffer.alloc(40_000, 'y'));
      t.output(b('\r\n$ '));
      t.input(b('echo ok\r'));
      t.output(b('echo ok\r\nok\r\n$ '));
      await t.flush();
      t.dispose();
      expect(got.map((e) => e.command)).toEqual(['echo ok']);
    } finally {
      t.dispose();
    }
  });

  describe('idle cost', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('holds a small ring for a prompt, grows it with output up to 16 KiB, and keeps the last bytes exactly', () => {
      const t = new LazyTracker({ cols: 80, rows: 24, onCommand: () => {}, holdMs: 0 });
      try {
        expect(t.ringBytes).toBe(0);
        t.output(b('user@host:~$ '));
        expect(t.ringBytes).toBeLessThanOrEqual(1024);
        expect(t.recent().toString()).toBe('user@host:~$ ');
        // Chunks of odd sizes across every growth step and past the wrap-around.
        let all = Buffer.from('user@host:~$ ');
        for (let i = 0; all.length < 50_000; i++) {
          const chunk = Buffer.alloc(1 + ((i * 977) % 3001), String.fromCharCode(97 + (i % 26)));
          t.output(chunk);
          all = Buffer.concat([all, chunk]);
          expect(t.recent().equals(all.subarray(Math.max(0, all.length - 16 * 1024)))).toBe(true);
        }
        expect(t.ringBytes).toBe(16 * 1024);
      } finally {
        t.dispose();
      }
    });

    it('has a sleep timer only while the emulator is awake', () => {
      vi.useFakeTimers();
      const t = new LazyTracker({ cols: 80, rows: 24, onCommand: () => {}, holdMs: 0, sleepAfterMs: 10_000 });
      try {
        t.output(b('$ '));
        expect(vi.getTimerCount()).toBe(0);
        t.input(b('x'));
        t.output(b('x'));
        t.input(b('\x03'));
        t.output(b('^C\r\n$ '));
        expect(t.awake).toBe(true);
        expect(vi.getTimerCount()).toBeGreaterThan(0);
        vi.advanceTimersByTime(20_000);
        expect(t.awake).toBe(false);
        expect(vi.getTimerCount()).toBe(0);
      } finally {
        t.dispose();
      }
    });
  });
});
