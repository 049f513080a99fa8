/**
 * The golden bash transcripts replayed as real bursts: each line's keys, up to and including
 * its Enter, arrive as ONE input chunk before any of their echoes (a paste, `tmux send-keys`, a
 * fast typist over a slow link), and the output recorded while the line was typed follows the
 * chunk. command-tracker.test.ts replays the same files key by key; the log must not depend on
 * how the keys were chunked.
 */
import { describe, expect, it } from 'vitest';
import { CommandTracker, type CommandEntry } from '../../src/commands/command-tracker.js';
import { EXPECTED, load, type Event } from '../helpers/terminal-fixtures.js';

/**
 * One input chunk per line (closed by Enter, Ctrl-C, Ctrl-D or the exit of a full-screen
 * program), at the time of its last key;
 * the output recorded meanwhile (the echoes) is delivered after it, in its order.
 */
function bursts(events: Event[]): Event[] {
  const out: Event[] = [];
  let keys: Event[] = [];
  let held: Event[] = [];
  const flush = () => {
    if (keys.length === 0) return;
    const at = keys[keys.length - 1]![1];
    out.push(['i', at, keys.map((k) => k[2]).join('')]);
    for (const o of held) out.push([o[0], Math.max(o[1], at), o[2]]);
    keys = [];
    held = [];
  };
  for (const e of events) {
    if (e[0] === 'o') {
      if (keys.length === 0) out.push(e);
      else {
        held.push(e);
        // A burst goes to one program: keys typed after a full-screen program has exited (its
        // alternate screen closed) are a new burst, sent to the shell.
        if (e[2].includes('\x1b[?1049l')) flush();
      }
      continue;
    }
    keys.push(e);
    if (/[\r\x03\x04]/.test(e[2])) flush();
  }
  flush();
  return out;
}

async function burstCommands(name: string): Promise<CommandEntry[]> {
  const fx = load(name);
  let clock = 0;
  const entries: CommandEntry[] = [];
  const tracker = new CommandTracker({ cols: fx.cols, rows: fx.rows, now: () => clock, onCommand: (e) => entries.push(e) });
  for (const [dir, t, text] of bursts(fx.events)) {
    clock = t;
    if (dir === 'o') tracker.output(Buffer.from(text));
    else tracker.input(Buffer.from(text));
  }
  await tracker.flush();
  tracker.dispose();
  return entries;
}

describe('bursts()', () => {
  it('puts a whole line, Enter included, in one chunk ahead of its echoes', () => {
    const events: Event[] = [['o', 0, '$ '], ['i', 10, 'l'], ['o', 11, 'l'], ['i', 20, 's'], ['o', 21, 's'], ['i', 30, '\r'], ['o', 31, '\r\nfile\r\n$ ']];
    expect(bursts(events)).toEqual([['o', 0, '$ '], ['i', 30, 'ls\r'], ['o', 30, 'l'], ['o', 30, 's'], ['o', 31, '\r\nfile\r\n$ ']]);
  });
});

/**
 * Known gaps, each an open bug (listed in the lead's closing note); `it.fails` turns red when
 * one is fixed, so the entry must then be removed:
 *  - edit, history, tab-completion: a line edited (Backspace, arrows, Tab, history) and sent in
 *    one burst is dropped, since the echo arrives after Enter (helper cmdlog7's key-line model
 *    fixes these);
 *  - secret-echoed: a secret sent in one burst to `read -s`, which the program then prints on
 *    the prompt's row, is indistinguishable in the byte streams from a pasted shell command
 *    echoed late, and is logged.
 */
const KNOWN_GAPS = new Set(['secret-echoed']);

describe('CommandTracker on recorded bash sessions typed in bursts', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    (KNOWN_GAPS.has(name) ? it.fails : it)(name, async () => {
      const got = (await burstCommands(name)).map(({ command, fullscreen }) => (fullscreen ? { command, fullscreen } : command));
      expect(got).toEqual(expected);
    });
  }

  it('never logs a secret typed in one burst at a no-echo prompt', async () => {
    for (const name of ['password', 'secret-shown']) {
      expect(JSON.stringify(await burstCommands(name))).not.toMatch(/hunter2|4242/);
    }
  });

  it.fails('never logs a secret sent in one burst to read -s, even when the program prints it (known gap)', async () => {
    expect(JSON.stringify(await burstCommands('secret-echoed'))).not.toMatch(/hunter2/);
  });
});

describe('a line typed ahead in the burst of the command before it', () => {
  /**
   * What `command-edits-live` met in CI: `sleep 1\recho next` arrives as one chunk while
   * readline has echo off, so nothing shows `echo next` until the shell is back and redraws it.
   * Enter, sent the moment the prompt is back, reached the tracker before that redraw, more
   * than `noEchoAfterMs` after the line's first key: the line was taken for a secret typed at
   * a no-echo prompt and dropped. The time a line waits behind a running command is not time
   * the target spent not echoing it.
   */
  it('logs it when Enter arrives before the shell has redrawn it', async () => {
    let clock = 0;
    const entries: string[] = [];
    const tracker = new CommandTracker({ cols: 80, rows: 24, now: () => clock, onCommand: (e) => entries.push(e.command) });
    const at = (t: number, dir: 'i' | 'o', text: string) => {
      clock = t;
      if (dir === 'o') tracker.output(Buffer.from(text));
      else tracker.input(Buffer.from(text));
    };
    at(0, 'o', '\x1b[?2004h$ ');
    at(10, 'i', 'sleep 1\recho next');
    at(11, 'o', 'sleep 1\r\n\x1b[?2004l\r');
    at(1_020, 'o', '\x1b[?2004h$ ');
    at(1_021, 'i', '\r');
    at(1_022, 'o', 'echo next\r\n\x1b[?2004l\rnext\r\n\x1b[?2004h$ ');
    at(1_030, 'i', 'x');
    await tracker.flush();
    tracker.dispose();
    expect(entries).toEqual(['sleep 1', 'echo next']);
  });
});
