/** The key model the tracker and the gate use to tell whether a line's echo has arrived. */
import { describe, expect, it } from 'vitest';
import { KeyLine } from '../../src/commands/key-line.js';
import { KeyScanner } from '../../src/commands/key-scanner.js';

function model(...chunks: string[]): KeyLine {
  const line = new KeyLine();
  const scanner = new KeyScanner();
  for (const c of chunks) scanner.scan(Buffer.from(c), (kind, byte, esc, param) => {
    if (kind !== 'enter' && kind !== 'interrupt') line.key(kind, byte, esc, param);
  });
  return line;
}

describe('KeyLine', () => {
  it.each([
    ['echo deltX\x7fa', 'echo delta'],
    ['echo wrld\x1bOD\x1bOD\x1bODo\x1b[C\x1b[C\x1b[C.', 'echo world.'],
    ['cho x\x1b[He\x1b[F y', 'echo x y'],
    ['cho z\x01e\x05 w', 'echo z w'],
    ['cho v\x1bOHe\x1bOF u', 'echo v u'],
    ['echo wrong\x15echo right', 'echo right'],
    ['echo erased\x15', ''],
    ['echo one two\x17three', 'echo one three'],
    ['echo keep drop\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x0b', 'echo keep'],
    ['echo abc\x1b[D\x1b[D\x1b[3~', 'echo ac'],
    ['echo x\x02\x04', 'echo '],
    ['echo \u00e9t\u00e9\x7f\x7fa', 'echo \u00e9a'],
    ['\x1b[200~echo a\rb\x1b[201~', 'echo a\nb'],
  ])('models %j as %j', (keys, shown) => {
    const line = model(keys);
    expect(line.exact).toBe(true);
    expect(line.text()).toBe(shown);
    expect(line.accepts(shown.trim())).toBe(true);
    expect(line.accepts(`${shown}x`)).toBe(false);
  });

  it.each([
    ['Tab', 'ls warden-\t\tp\t', ['ls warden-plan.txt'], ['ls warden-', 'ls warden-\nwarden-notes.txt  warden-plan.txt']],
    ['Ctrl-R', '\x12first-e', ['echo first-entry'], ['echo other']],
    ['Up', '\x1b[A again', ['echo first again'], ['echo first']],
    ['ESC [1~ (Home under TERM=screen, binding varies)', 'cho v\x1b[1~e', ['echo v', 'cho ve~'], ['']],
    ['Alt-b', 'echo b\x1bba', ['echo ab'], ['']],
  ])('does not guess after %s, but knows what was typed since', (_what, keys, ok, bad) => {
    const line = model(keys);
    expect(line.exact).toBe(false);
    expect(line.text()).toBeNull();
    for (const shown of ok) expect(line.accepts(shown)).toBe(true);
    for (const shown of bad) expect(line.accepts(shown)).toBe(false);
  });

  it('gives up on a line longer than it models, and when keys were missed', () => {
    const long = model('x'.repeat(5000));
    expect(long.exact).toBe(false);
    expect(long.accepts('x'.repeat(5000))).toBe(true);
    const missed = new KeyLine(true);
    expect(missed.exact).toBe(false);
  });
});
