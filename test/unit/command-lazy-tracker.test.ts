import { describe, expect, it } from 'vitest';
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
});
