/**
 * The current screen of a terminal channel, for a watcher that just arrived: the channel's
 * last output (the command tracker's bounded ring, 16 KiB) replayed into a throwaway headless
 * terminal of the channel's size and serialized back (@xterm/addon-serialize). The watcher gets
 * a clean screen (no escape sequence cut in half, no scrollback of unknown length), at a cost
 * paid once per watcher, never per chunk.
 */
import xterm from '@xterm/headless';
import serialize from '@xterm/addon-serialize';

// Both packages are CommonJS; ESM sees their exports only through the default import.
const { Terminal } = xterm;
const { SerializeAddon } = serialize;

/** Clear the watcher's screen and home the cursor before drawing. */
const CLEAR = '\x1b[0m\x1b[H\x1b[2J';

export async function renderScreen(recent: Buffer, cols: number, rows: number): Promise<Buffer> {
  const term = new Terminal({ cols, rows, scrollback: 0, allowProposedApi: true });
  try {
    const addon = new SerializeAddon();
    term.loadAddon(addon as unknown as Parameters<typeof term.loadAddon>[0]);
    await new Promise<void>((resolve) => term.write(recent, resolve));
    return Buffer.from(CLEAR + addon.serialize({ scrollback: 0 }));
  } finally {
    term.dispose();
  }
}
