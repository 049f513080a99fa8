/** Starts the bare ssh2 relay (bare-relay-server.ts) as its own process, as Warden runs. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild, waitForExit } from '../test/helpers/processes.js';
import type { SshdHandle } from '../test/helpers/sshd.js';
import type { CryptoSet } from './crypto.js';
import { ssh2Connect, type Ssh2Connection } from './setup.js';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bare-relay-server.ts');

export interface BareRelay {
  readonly pid: number;
  readonly port: number;
  connect(crypto: CryptoSet): Promise<Ssh2Connection>;
  stop(): Promise<void>;
}

export async function startBareRelay(target: SshdHandle): Promise<BareRelay> {
  // The bench runs under tsx: the same loader flags run the TypeScript server.
  const child = spawn(process.execPath, [...process.execArgv, SERVER, String(target.port), target.user, target.clientKeyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  trackChild(child);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`bare relay did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`bare relay exited (${code}): ${out}`)));
  });
  // Any key is accepted; the client must still offer one.
  const key = readFileSync(target.clientKeyPath);
  return {
    pid: child.pid!,
    port,
    connect: async (crypto) => {
      const { client, cipher } = await ssh2Connect({ host: '127.0.0.1', port, username: 'bench', privateKey: key }, crypto);
      return { client, cipher, close: () => client.end() };
    },
    stop: async () => {
      child.kill('SIGTERM');
      await waitForExit(child, 5000);
    },
  };
}
