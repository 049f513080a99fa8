/** An interactive pty shell opened with ssh2 in the bench process (keystroke and idle-RSS). */
import type { ClientChannel } from 'ssh2';
import { CRYPTO, type CryptoSet } from './crypto.js';
import type { BenchPath, Ssh2Connection } from './setup.js';

export interface PtySession {
  conn: Ssh2Connection;
  stream: ClientChannel;
  close(): void;
}

const WINDOW = { term: 'xterm', rows: 24, cols: 80, width: 640, height: 480 };

/** Resolve once the output seen so far matches `test` (or reject after `timeoutMs`). */
export function waitForOutput(stream: ClientChannel, test: (text: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (test(text)) finish();
    };
    const onClose = () => finish(new Error(`channel closed while waiting; output so far: ${JSON.stringify(text.slice(-200))}`));
    const timer = setTimeout(() => finish(new Error(`no expected output after ${timeoutMs} ms; got ${JSON.stringify(text.slice(-200))}`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      stream.removeListener('data', onData);
      stream.removeListener('close', onClose);
      if (err) reject(err);
      else resolve(text);
    };
    stream.on('data', onData);
    stream.once('close', onClose);
  });
}

/**
 * Connect (equal crypto unless told otherwise), open a shell with a pty, and (by default) wait for its first output (the prompt),
 * i.e. until the target's shell is really running.
 */
export async function openPtyShell(p: Pick<BenchPath, 'connect'>, opts: { waitForPrompt?: boolean; timeoutMs?: number; crypto?: CryptoSet } = {}): Promise<PtySession> {
  const conn = await p.connect(opts.crypto ?? CRYPTO.equal);
  try {
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      conn.client.shell(WINDOW, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    stream.on('error', () => undefined);
    stream.stderr.on('data', () => undefined);
    if (opts.waitForPrompt ?? true) await waitForOutput(stream, (t) => t.length > 0, opts.timeoutMs ?? 30_000);
    return { conn, stream, close: () => conn.close() };
  } catch (err) {
    conn.close();
    throw err;
  }
}
