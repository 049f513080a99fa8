/**
 * readEchoed (src/commands/screen-text.ts) on a hand-drawn screen: a line typed ahead, whose
 * prompt the shell printed after the tty's early echo on the same row. The recorded fixture
 * type-ahead-same-row covers bash itself; this covers what a fixture does not: wide characters
 * before the prompt (cells and characters differ) and a reading that must not be shortened.
 */
import xterm from '@xterm/headless';
import { describe, expect, it } from 'vitest';
import { readEchoed } from '../../src/commands/screen-text.js';

async function screen(text: string) {
  const term = new xterm.Terminal({ cols: 80, rows: 5, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(text, resolve));
  return { buf: term.buffer.normal, prefix: { marker: term.registerMarker(0)!, col: 0, text: '' } };
}

const exactly = (line: string) => ({ exact: true, accepts: (s: string) => s === line });

describe('readEchoed', () => {
  it('reads after the known prompt behind wide characters the tty echoed first', async () => {
    const { buf, prefix } = await screen('漢字 echo nextab$ echo next');
    expect(readEchoed(buf, prefix, 0, { col: 4, text: 'ab$ ' }, exactly('echo next'))).toBe('echo next');
  });

  it('keeps the whole reading when the text after the prompt is not exactly what the keys make', async () => {
    const { buf, prefix } = await screen('rm -rf /tmp/x #ab$ ls');
    expect(readEchoed(buf, prefix, 0, { col: 4, text: 'ab$ ' }, exactly('rm -rf /tmp/x #ab$ ls'))).toBe('rm -rf /tmp/x #ab$ ls');
    expect(readEchoed(buf, prefix, 0, { col: 4, text: 'ab$ ' }, { exact: false, accepts: () => true })).toBe('rm -rf /tmp/x #ab$ ls');
  });
});
