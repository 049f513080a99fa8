/**
 * `warden watch` in the admin's terminal: the watched screen is written as is (the user's
 * terminal needed every byte of it, so does ours), keys are read only to leave: `q` or
 * Ctrl-C. Nothing typed here reaches the session. On the way out the terminal is restored
 * (cooked mode, attributes reset, cursor shown, main screen) and the reason is printed.
 */
import { hostname, userInfo } from 'node:os';
import type { Registry } from '../registry.js';
import { printable } from '../text.js';
import { startWatch } from './watch-client.js';

/** Output our own terminal has not taken yet beyond which this watcher gives up. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const RESTORE = '\x1b[0m\x1b[?25h\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1006l\x1b[?2004l';

/** A key chunk that means "leave": Ctrl-C anywhere, or a lone q (not part of a terminal reply). */
export function isLeaveKey(chunk: Buffer): boolean {
  return chunk.includes(0x03) || (chunk.length === 1 && (chunk[0] === 0x71 || chunk[0] === 0x51));
}

export async function watchInTerminal(registry: Registry, sessionId: string): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  let pending = false;
  const write = (data: Buffer | string) => {
    if (out.writableLength > MAX_PENDING_BYTES) {
      pending = true;
      return void handle.stop('dropped: this terminal cannot keep up with the session');
    }
    out.write(data);
  };
  const handle = await startWatch({
    registry,
    sessionId,
    who: userInfo().username,
    via: 'cli',
    from: hostname(),
    sink: {
      screen: (cols, rows, data) => {
        out.write(`\x1b]2;warden watch ${sessionId} (${cols}x${rows}, read-only, q leaves)\x07`);
        write(data);
      },
      output: (data) => write(data),
      resize: (cols, rows) => out.write(`\x1b]2;warden watch ${sessionId} (${cols}x${rows}, read-only, q leaves)\x07`),
    },
  });
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const onKey = (chunk: Buffer) => {
    if (isLeaveKey(chunk)) void handle.stop('left');
  };
  stdin.on('data', onKey);
  stdin.resume();
  const onSignal = () => void handle.stop('left');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const reason = await handle.ended;
  await handle.stop();
  stdin.off('data', onKey);
  stdin.pause();
  if (raw) stdin.setRawMode(false);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  out.write(`${RESTORE}\r\n[warden] watch of ${sessionId} ended: ${printable(reason, 300)}\r\n`);
  return pending ? 1 : 0;
}
