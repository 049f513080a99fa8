/**
 * The SSH front door: an ssh2 Server with a hardened algorithm list, a cap on connections
 * that have not authenticated yet (ssh2 has none), TCP no-delay, and one Session per
 * connection handed to `onConnection` (the supervisor).
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Connection } from 'ssh2';
import { rawServer, Server, socketOf, utils as sshUtils } from './ssh2.js';
import type { Logger } from './logger.js';
import { serverAlgorithms } from './ssh-algorithms.js';

/**
 * A new ed25519 key pair in OpenSSH format. ssh2's generator strips leading zero bytes of the
 * public key, so about one key in 256 cannot be parsed back (mscdex/ssh2#1513), and a Warden
 * that made one could never start: keep only a pair that parses.
 */
export function newHostKeyPair(): { private: string; public: string } {
  for (let attempt = 1; ; attempt++) {
    const pair = sshUtils.generateKeyPairSync('ed25519', { comment: 'warden host key' });
    if (!(sshUtils.parseKey(pair.private) instanceof Error) && !(sshUtils.parseKey(pair.public) instanceof Error)) return pair;
    if (attempt >= 16) throw new Error('could not generate a parsable ed25519 host key');
  }
}

/** Load the bastion's host key, creating an ed25519 key (0600) on first start. */
export function loadOrCreateHostKey(file: string, log: Logger): Buffer {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const pair = newHostKeyPair();
    writeFileSync(file, pair.private, { mode: 0o600 });
    writeFileSync(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
    log.info({ file }, 'created host key');
  }
  return readFileSync(file);
}

export interface FrontDoorOptions {
  hostKey: Buffer;
  /** Deadline for a TCP connection to authenticate, handshake included. */
  loginGraceMs: number;
  keepaliveMs: number;
  /** Unauthenticated connections allowed at once; more are dropped at accept. */
  maxPreAuth: number;
}

export class FrontDoor {
  readonly server: InstanceType<typeof Server>;
  private preAuth = 0;
  /** Socket-level login deadline: ssh2 only reports a connection after the client's version
   * line, so a peer that sends nothing would never reach a session's own timer. */
  private readonly graceTimers = new WeakMap<Socket, NodeJS.Timeout>();

  constructor(
    onConnection: (client: Connection, remote: string) => void,
    opts: FrontDoorOptions,
    private readonly log: Logger,
  ) {
    this.server = new Server(
      {
        hostKeys: [opts.hostKey],
        algorithms: serverAlgorithms(),
        ident: 'Warden',
        keepaliveInterval: opts.keepaliveMs,
        keepaliveCountMax: 3,
      },
      (client, info) => {
        client.on('error', () => {});
        if (this.preAuth >= opts.maxPreAuth) {
          log.warn({ remote: info.ip }, 'too many unauthenticated connections; dropping');
          client.end();
          return;
        }
        this.preAuth++;
        let counted = true;
        const release = () => {
          if (counted) this.preAuth--;
          counted = false;
        };
        const socket = socketOf(client);
        client.once('ready', () => {
          if (socket) clearTimeout(this.graceTimers.get(socket));
          release();
        });
        client.once('close', release);
        onConnection(client, info.ip);
      },
    );
    this.server.on('error', (err: Error) => log.error({ err: err.message }, 'listener error'));
    rawServer(this.server).on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(), opts.loginGraceMs + 1_000);
      timer.unref();
      this.graceTimers.set(socket, timer);
      socket.once('close', () => clearTimeout(timer));
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        const addr = this.server.address() as AddressInfo;
        this.log.info({ address: `${addr.address}:${addr.port}` }, 'listening');
        resolve(addr);
      });
    });
  }

  /** Stop accepting (resolves when the last connection is gone; do not await before ending them). */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
