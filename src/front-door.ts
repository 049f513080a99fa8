/**
 * The SSH front door: an ssh2 Server with a hardened algorithm list, OpenSSH-style admission
 * of connections that have not authenticated yet (ssh2 has none; see admission.ts), TCP
 * no-delay, the client's address from a trusted load balancer's PROXY header
 * (proxy-protocol.ts), and one Session per connection handed to `onConnection` (the
 * supervisor).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Connection } from 'ssh2';
import { DISCONNECT, rawServer, Server, socketOf, utils as sshUtils } from './ssh2.js';
import type { Logger } from './logger.js';
import { makePrivateDir, PRIVATE_FILE } from './private-files.js';
import { serverAlgorithms, type AlgorithmChoice } from './ssh-algorithms.js';
import { Admission, sourceOf, type MaxStartups } from './admission.js';
import { readProxyHeader, trustedPeers } from './proxy-protocol.js';

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
    makePrivateDir(dirname(file));
    const pair = newHostKeyPair();
    writeFileSync(file, pair.private, { mode: PRIVATE_FILE });
    // Public, but it usually sits in dataDir, where everything is private.
    writeFileSync(`${file}.pub`, `${pair.public}\n`, { mode: PRIVATE_FILE });
    log.info({ file }, 'created host key');
  }
  return readFileSync(file);
}

export interface FrontDoorOptions {
  hostKey: Buffer;
  /** Deadline for a TCP connection to authenticate, handshake included. */
  loginGraceMs: number;
  keepaliveMs: number;
  /** Unauthenticated connections: random early drop past `start`, a cap per source address. */
  maxStartups: MaxStartups;
  perSourceMaxStartups: number | 'none';
  /** Addresses and CIDRs of load balancers, whose connections must start with a PROXY
   *  protocol header naming the client (proxy-protocol.ts). */
  trustedProxies?: string[];
  /** The config's narrowing of the algorithms offered to clients. */
  algorithms?: AlgorithmChoice;
}

/** How long a balancer has to send its PROXY header (it sends it at once). */
const PROXY_HEADER_MS = 5_000;

/** SSH_MSG_DISCONNECT (reason 12, too many connections) as a packet before any key exchange. */
function plaintextDisconnect(text: string): Buffer {
  const desc = Buffer.from(text);
  const payload = Buffer.alloc(1 + 4 + 4 + desc.length + 4);
  payload[0] = 1;
  payload.writeUInt32BE(DISCONNECT.TOO_MANY_CONNECTIONS, 1);
  payload.writeUInt32BE(desc.length, 5);
  desc.copy(payload, 9);
  // uint32 length, byte padding length, payload, padding: a multiple of 8, padding >= 4.
  let padding = 8 - ((4 + 1 + payload.length) % 8);
  if (padding < 4) padding += 8;
  const packet = Buffer.alloc(4 + 1 + payload.length + padding);
  packet.writeUInt32BE(1 + payload.length + padding, 0);
  packet[4] = padding;
  payload.copy(packet, 5);
  return packet;
}

/** How long a refused peer gets to read its reason before the socket is destroyed. */
const REFUSAL_LINGER_MS = 2_000;
/** Refusals are logged at most this often (a flood must not flood the log). */
const REFUSAL_LOG_EVERY_MS = 10_000;
const REFUSED_BUSY_PROXY = 'Too many connections waiting for their PROXY header; try again later.';

export class FrontDoor {
  readonly server: InstanceType<typeof Server>;
  readonly admission: Admission;
  /** Releases the pre-auth slot of a socket (at authentication or close). */
  private readonly slots = new WeakMap<Socket, () => void>();
  /** The client's address of a balancer's connection, from its PROXY header. */
  private readonly proxied = new WeakMap<Socket, string>();
  /** Balancers' connections whose header has not arrived yet. */
  private awaitingHeader = 0;
  private refused = 0;
  private lastRefusalLog = 0;

  constructor(
    onConnection: (client: Connection, remote: string) => void,
    opts: FrontDoorOptions,
    private readonly log: Logger,
  ) {
    this.admission = new Admission({ maxStartups: opts.maxStartups, perSource: opts.perSourceMaxStartups });
    this.server = new Server(
      {
        hostKeys: [opts.hostKey],
        algorithms: serverAlgorithms(opts.algorithms),
        ident: 'Warden',
        keepaliveInterval: opts.keepaliveMs,
        keepaliveCountMax: 3,
      },
      (client, info) => {
        client.on('error', () => {});
        const socket = socketOf(client);
        const release = socket && this.slots.get(socket);
        if (release) client.once('ready', release);
        onConnection(client, (socket && this.proxied.get(socket)) ?? sourceOf(info.ip));
      },
    );
    this.server.on('error', (err: Error) => log.error({ err }, 'listener error'));
    // Admission happens at TCP accept, before ssh2 sees the socket: ssh2 reports a connection
    // only after the client's version line, so a silent peer would never be counted.
    const srv = rawServer(this.server);
    const ssh2Accepts = srv.listeners('connection') as Array<(socket: Socket) => void>;
    srv.removeAllListeners('connection');
    const trustedProxy = trustedPeers(opts.trustedProxies ?? []);
    const accept = (socket: Socket, source: string) => {
      const verdict = this.admission.admit(source);
      if (!verdict.ok) return this.refuse(socket, verdict.why, source);
      // Socket-level login deadline: a peer that sends nothing never reaches a session's timer.
      const timer = setTimeout(() => socket.destroy(), opts.loginGraceMs + 1_000);
      timer.unref();
      const release = () => {
        clearTimeout(timer);
        verdict.release();
      };
      this.slots.set(socket, release);
      socket.once('close', release);
      for (const ssh2Accept of ssh2Accepts) ssh2Accept.call(srv, socket);
    };
    srv.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      const peer = sourceOf(socket.remoteAddress);
      if (!trustedProxy?.(peer)) return accept(socket, peer);
      // A balancer: the client's address comes first, in the PROXY header. Waiting for headers
      // is bounded like unauthenticated connections are.
      if (this.awaitingHeader >= opts.maxStartups.full) return this.refuse(socket, REFUSED_BUSY_PROXY, peer);
      this.awaitingHeader++;
      socket.on('error', () => {});
      void readProxyHeader(socket, PROXY_HEADER_MS).then((header) => {
        this.awaitingHeader--;
        if (!header.ok) {
          this.log.warn({ peer, why: header.why }, 'connection from a trusted proxy refused: bad PROXY header');
          return socket.destroy();
        }
        const source = header.source ?? peer;
        this.proxied.set(socket, source);
        accept(socket, source);
        socket.resume();
      });
    });
  }

  /**
   * The reason twice: as a text line before the version line (RFC 4253 4.2 allows it; raw
   * readers and some clients show it) and as an unencrypted SSH_MSG_DISCONNECT right after it,
   * which OpenSSH prints ("Received disconnect from ...: <reason>"). The socket keeps reading
   * until the peer leaves: closing it under unread input would reset the connection and the
   * peer could lose the reason.
   */
  private refuse(socket: Socket, why: string, remote: string): void {
    socket.on('error', () => {});
    socket.resume();
    socket.end(Buffer.concat([Buffer.from(`${why}\r\nSSH-2.0-Warden\r\n`), plaintextDisconnect(why)]));
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
    this.refused++;
    const now = Date.now();
    if (now - this.lastRefusalLog >= REFUSAL_LOG_EVERY_MS) {
      this.lastRefusalLog = now;
      this.log.warn({ remote, why, refusedSinceLastLog: this.refused, unauthenticated: this.admission.count }, 'connection refused before authentication');
      this.refused = 0;
    }
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
