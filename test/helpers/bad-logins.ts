/**
 * A client that keeps offering wrong passwords on one connection (ssh2's client, which, unlike
 * OpenSSH's, retries as often as the server answers), to count how many attempts a server
 * takes before it disconnects.
 */
import { Client } from '../../src/ssh2.js';

export interface BadLogins {
  /** Password attempts the server asked for (one per authentication failure answered, plus the first). */
  attempts: number;
  /** How the connection ended: 'closed', 'error: ...', or 'ready' if a wrong password got in. */
  outcome: string;
}

export function wrongPasswords(port: number, username: string, giveUpAfter = 20): Promise<BadLogins> {
  let attempts = 0;
  return new Promise((resolve) => {
    const c = new Client();
    const done = (outcome: string) => resolve({ attempts, outcome });
    c.on('error', (err) => done(`error: ${err.message}`));
    c.on('close', () => done('closed'));
    c.on('ready', () => {
      done('ready');
      c.end();
    });
    c.connect({
      host: '127.0.0.1',
      port,
      username,
      readyTimeout: 60_000,
      authHandler: (_methods, _partial, next) => {
        attempts++;
        if (attempts > giveUpAfter) return next(false as never);
        next({ type: 'password', username, password: `wrong-${attempts}` });
      },
    });
  });
}
