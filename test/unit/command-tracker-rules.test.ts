/** Behaviours of CommandTracker that the recorded transcripts don't pin down, on synthetic bytes. */
import { describe, expect, it } from 'vitest';
import { CommandTracker, type CommandEntry } from '../../src/commands/command-tracker.js';
import { KeyScanner, type KeyKind } from '../../src/commands/key-scanner.js';

const PROMPT = '$ ';

function setup(opts: { cols?: number; holdMs?: number } = {}) {
  let clock = 0;
  const entries: CommandEntry[] = [];
  const errors: unknown[] = [];
  const tracker = new CommandTracker({
    cols: opts.cols ?? 80,
    rows: 24,
    now: () => clock,
    holdMs: opts.holdMs,
    onCommand: (e) => entries.push(e),
    onError: (err) => errors.push(err),
  });
  const out = (s: string) => tracker.output(Buffer.from(s));
  const key = (s: string) => tracker.input(Buffer.from(s));
  /** Types `line` with a remote echo per key, then Enter answered by CR LF. */
  const typeEchoed = (line: string) => {
    for (const ch of line) {
      key(ch);
      out(ch);
    }
    key('\r');
    out('\r\n');
  };
  return { tracker, entries, errors, out, key, typeEchoed, setClock: (t: number) => (clock = t) };
}

describe('CommandTracker rules', () => {
  it('emits a running command once output flows holdMs after it, without waiting for a key', async () => {
    const t = setup({ holdMs: 500 });
    t.out(PROMPT);
    t.typeEchoed('make');
    await t.tracker.flush();
    expect(t.entries).toEqual([]); // held: it might still open the alternate screen
    t.setClock(600);
    t.out('compiling...\r\n');
    await t.tracker.flush();
    expect(t.entries).toEqual([{ command: 'make', at: 0 }]);
    t.tracker.dispose();
  });

  it('tags a command fullscreen when the alternate screen opens, and ignores keys inside it', async () => {
    const t = setup();
    t.out(PROMPT);
    t.typeEchoed('top');
    t.out('\x1b[?1049h\x1b[H\x1b[2Jtop - 10:00:00');
    t.key('q');
    t.key('echo inside\r');
    t.out('\x1b[?1049l' + PROMPT);
    t.typeEchoed('echo back');
    await t.tracker.flush();
    t.tracker.dispose();
    expect(t.entries).toEqual([
      { command: 'top', at: 0, fullscreen: true },
      { command: 'echo back', at: 0 },
    ]);
  });

  it('drops a submission that was never echoed and never answered by a newline', async () => {
    const t = setup();
    t.out('Password: ');
    t.key('s3cret\r');
    await t.tracker.flush();
    t.tracker.dispose();
    expect(t.entries).toEqual([]);
  });

  it('reads a line wrapped at the width set by a resize queued behind earlier output', async () => {
    const t = setup({ cols: 80 });
    t.tracker.resize(20, 24);
    t.out(PROMPT);
    t.typeEchoed('echo 0123456789 0123456789 end');
    await t.tracker.flush();
    t.tracker.dispose();
    expect(t.entries.map((e) => e.command)).toEqual(['echo 0123456789 0123456789 end']);
  });

  it('keeps parsing when onCommand throws, and reports the error', async () => {
    const entries: string[] = [];
    const errors: unknown[] = [];
    const tracker = new CommandTracker({
      cols: 80,
      rows: 24,
      onCommand: (e) => {
        entries.push(e.command);
        if (e.command === 'boom') throw new Error('listener failed');
      },
      onError: (err) => errors.push(err),
    });
    for (const line of ['boom', 'after']) {
      tracker.output(Buffer.from(PROMPT));
      tracker.input(Buffer.from(line));
      tracker.output(Buffer.from(line));
      tracker.input(Buffer.from('\r'));
      tracker.output(Buffer.from('\r\n'));
    }
    await tracker.flush();
    tracker.dispose();
    expect(entries).toEqual(['boom', 'after']);
    expect(errors).toHaveLength(1);
  });

  it('is inert after dispose', async () => {
    const t = setup();
    t.tracker.dispose();
    t.out(PROMPT);
    t.typeEchoed('ls');
    await t.tracker.flush();
    expect(t.entries).toEqual([]);
    expect(t.tracker.currentLine()).toBe('');
  });
});

describe('KeyScanner', () => {
  function scan(...chunks: string[]): Array<[KeyKind, string]> {
    const s = new KeyScanner();
    const keys: Array<[KeyKind, string]> = [];
    for (const c of chunks) s.scan(Buffer.from(c), (kind, byte) => keys.push([kind, String.fromCharCode(byte)]));
    return keys;
  }

  it('treats CR LF as one Enter, and a lone LF as Enter', () => {
    expect(scan('a\r\n', '\n').filter(([k]) => k === 'enter')).toHaveLength(2);
  });

  it('classifies arrows and Alt keys as edits, not text', () => {
    expect(scan('\x1b[D\x1bOA\x1bb\x7f').map(([k]) => k)).toEqual(['edit', 'edit', 'edit', 'edit']);
  });

  it('does not submit on newlines inside a bracketed paste split across chunks', () => {
    const keys = scan('\x1b[20', '0~a\rb\x1b', '[201~\r');
    expect(keys.map(([k]) => k)).toEqual(['mark', 'text', 'text', 'text', 'mark', 'enter']);
    expect(keys.slice(1, 4).map(([, c]) => c).join('')).toBe('a\nb');
  });

  it('reports Ctrl-C as interrupt', () => {
    expect(scan('ab\x03')).toEqual([['text', 'a'], ['text', 'b'], ['interrupt', '\x03']]);
  });
});

describe('CommandTracker under bulk output', () => {
  it('skips output while the emulator lags more than maxLagBytes behind', async () => {
    const tracker = new CommandTracker({ cols: 80, rows: 24, maxLagBytes: 10, onCommand: () => {} });
    tracker.output(Buffer.from('12345678'));
    tracker.output(Buffer.from('abcdefgh')); // 16 > 10 queued: skipped
    tracker.output(Buffer.from('ABCDEFGH'));
    expect(tracker.skippedBytes).toBe(16);
    await tracker.flush();
    tracker.output(Buffer.from('caught up'));
    expect(tracker.skippedBytes).toBe(16);
    tracker.dispose();
  });
});

describe('CommandTracker flush', () => {
  it('settles a pending flush() when disposed before the emulator caught up', async () => {
    const t = setup();
    t.out('x'.repeat(100_000));
    const flushed = t.tracker.flush();
    t.tracker.dispose();
    await expect(flushed).resolves.toBeUndefined();
  });
});
