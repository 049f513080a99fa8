/**
 * Many idle pty shells through one SSH endpoint (Warden, or any relay), opened with ssh2 in
 * THIS process, so the endpoint's own process holds only its side of each session.
 *
 * Logins run at bounded concurrency from several loopback source addresses (Linux routes all
 * of 127.0.0.0/8 to lo): Warden's shipped admission allows 5 logins in progress per source
 * address and drops at random past 10 in total, so 2 sources × 4 keeps every login admitted
 * while they still overlap.
 */
import { execFileSync } from 'node:child_process';
import type { Client as ClientT, ClientChannel, ConnectConfig } from 'ssh2';
import { Client } from '../../src/ssh2.js';

export interface IdleShell {
  client: ClientT;
  /** undefined for a connection opened without a channel. */
  stream?: ClientChannel;
  close(): void;
}

export interface IdleShellEndpoint {
  port: number;
  username: string;
  privateKey?: Buffer;
  password?: string;
  /** ssh2 algorithm lists (default: ssh2's). */
  algorithms?: ConnectConfig['algorithms'];
}

export interface OpenManyOptions {
  /** Source addresses 127.0.0.1 .. 127.0.0.<sources>; default 2. */
  sources?: number;
  /** Logins in progress per source address; default 4. */
  perSource?: number;
  /** Open a pty shell and wait for its first output (default), or only log in. */
  shell?: boolean;
  signal?: AbortSignal;
}

const WINDOW = { term: 'xterm', rows: 24, cols: 80, width: 640, height: 480 };

/** Log in and (unless `shell: false`) open a pty shell and wait for its prompt. */
export function openIdleShell(e: IdleShellEndpoint, localAddress: string, shell = true, timeoutMs = 60_000): Promise<IdleShell> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const close = () => client.end();
    const timer = setTimeout(() => fail(new Error(`no ${shell ? 'prompt' : 'login'} from ${localAddress} after ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      client.end();
      reject(err);
    };
    client.once('error', fail);
    client.once('ready', () => {
      if (!shell) {
        clearTimeout(timer);
        client.removeListener('error', fail);
        client.on('error', () => {});
        return resolve({ client, close });
      }
      client.shell(WINDOW, (err, stream) => {
        if (err) return fail(err);
        stream.on('error', () => {});
        stream.stderr.on('data', () => {});
        stream.once('data', () => {
          clearTimeout(timer);
          client.removeListener('error', fail);
          client.on('error', () => {});
          // Idle from here on: output is read (and dropped) so no window ever fills.
          stream.on('data', () => {});
          resolve({ client, stream, close });
        });
      });
    });
    client.connect({
      host: '127.0.0.1',
      port: e.port,
      localAddress,
      username: e.username,
      privateKey: e.privateKey,
      password: e.password,
      algorithms: e.algorithms,
      readyTimeout: timeoutMs,
    });
  });
}

/**
 * Open `n` sessions; each is pushed onto `into` as soon as it is open (the caller closes them,
 * also after a failure). Rejects on the first session that fails: at this scale every one must open.
 */
export async function openIdleShells(e: IdleShellEndpoint, n: number, into: IdleShell[], o: OpenManyOptions = {}): Promise<void> {
  const sources = o.sources ?? 2;
  const perSource = o.perSource ?? 4;
  let next = 0;
  const worker = async (source: string) => {
    while (next < n) {
      next++;
      if (o.signal?.aborted) throw new Error('interrupted');
      try {
        into.push(await openIdleShell(e, source, o.shell ?? true));
      } catch (err) {
        next = n; // the other workers stop too
        throw err;
      }
    }
  };
  const workers: Array<Promise<void>> = [];
  for (let i = 0; i < sources * perSource && i < n; i++) workers.push(worker(`127.0.0.${1 + (i % sources)}`));
  await Promise.all(workers);
}

/**
 * Established TCP connections accepted by the listener at `host:port` (the server's side of
 * each). Matching the local port alone counted one connection twice now and then: a client
 * bound to another loopback address (127.0.0.2) can be given the listener's port number as its
 * own ephemeral port (no conflict across addresses), and then both of its ends have that local
 * port; the 1000-session bench row once read 1000 sessions against 1001 connections so.
 */
export function establishedTo(port: number, host = '127.0.0.1'): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', 'src', `${host}:${port}`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').length;
}
