/**
 * An in-process harness for session behaviour: an ssh2 client → Warden's front door → an
 * ssh2 server as the target, all on port 0 in this process (as ssh2's own tests pair a client
 * and a server), with a real redis-server behind Warden. Auth, menu and kill paths run in
 * milliseconds here, next to the real-sshd e2e tests that prove the same against OpenSSH.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Client as SshClient, ClientChannel, ConnectConfig, Connection, ServerChannel } from 'ssh2';
import { loadConfig } from '../../src/config.js';
import { startInstance, type Instance } from '../../src/instance.js';
import { hashPassword } from '../../src/password.js';
import { Client, Server, utils } from '../../src/ssh2.js';
import { makeTempDir, removeTempDir } from './processes.js';
import { uniquePrefix } from './redis.js';
import { capturedLogger } from './warden.js';

export const PASSWORD = 'in-process-pw';

function keyPair() {
  const pair = utils.generateKeyPairSync('ed25519');
  const parsed = utils.parseKey(pair.private);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('cannot parse generated key');
  return { private: pair.private, line: `ssh-ed25519 ${parsed.getPublicSSH().toString('base64')}` };
}

/**
 * A target SSH server: any key logs in; `exec` answers `ran: CMD` and exits 0 (`hang` never
 * ends); a shell prints a `$ ` prompt and echoes each line as `you said: LINE`.
 */
export async function startFakeTarget(): Promise<{ port: number; hostKeyLine: string; stop(): Promise<void> }> {
  const host = keyPair();
  const conns = new Set<Connection>();
  const server = new Server({ hostKeys: [host.private] }, (conn) => {
    conns.add(conn);
    conn.on('error', () => {});
    conn.on('close', () => conns.delete(conn));
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      const session = accept();
      session.on('pty', (ok) => ok?.());
      session.on('env', (ok) => ok?.());
      session.on('window-change', (ok) => ok?.());
      session.on('exec', (ok, _no, info) => {
        const ch = ok();
        if (info.command === 'hang') return;
        ch.write(`ran: ${info.command}\n`);
        ch.exit(0);
        ch.end();
      });
      session.on('shell', (ok) => {
        const ch: ServerChannel = ok();
        let line = '';
        ch.write('$ ');
        ch.on('data', (d: Buffer) => {
          for (const c of d.toString()) {
            if (c === '\r') {
              ch.write(`\r\nyou said: ${line}\r\n$ `);
              line = '';
            } else {
              line += c;
              ch.write(c);
            }
          }
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hostKeyLine: host.line,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.end();
        server.close(() => resolve());
      }),
  };
}

export interface InProcessWarden {
  instance: Instance;
  port: number;
  aliceKey: string;
  logs(): Array<Record<string, unknown>>;
  /** An ssh2 client logged in (or trying to) as `login`. */
  connect(login: string, auth: Partial<ConnectConfig>): Promise<SshClient>;
  stop(): Promise<void>;
}

export async function startInProcessWarden(redisUrl: string, target: { port: number; hostKeyLine: string }): Promise<InProcessWarden> {
  const dir = makeTempDir('warden-inproc-');
  const alice = keyPair();
  const account = keyPair();
  writeFileSync(path.join(dir, 'account_key'), account.private, { mode: 0o600 });
  const yaml = `
listen: 127.0.0.1:0
hostKeyFile: ./host_ed25519
dataDir: ./data
redis: ${redisUrl}
redisPrefix: ${uniquePrefix()}
auth: { maxTries: 6, loginGraceTime: 5s }
target: { connectTimeout: 3s }
users:
  alice: { password: "${await hashPassword(PASSWORD)}", keys: ["${alice.line}"] }
assets:
  t1: { host: 127.0.0.1, port: ${target.port}, hostKey: "${target.hostKeyLine}" }
  t2: { host: 127.0.0.1, port: ${target.port}, hostKey: "${target.hostKeyLine}" }
accounts:
  svc: { username: svc, privateKeyFile: ./account_key }
grants:
  - { users: [alice], assets: [t1, t2], accounts: [svc] }
`;
  writeFileSync(path.join(dir, 'warden.yaml'), yaml);
  const { log, lines } = capturedLogger();
  const instance = await startInstance(loadConfig(path.join(dir, 'warden.yaml')), log, log.child({ audit: true }));
  const clients = new Set<SshClient>();
  return {
    instance,
    port: instance.address.port,
    aliceKey: alice.private,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    connect: (login, auth) =>
      new Promise((resolve, reject) => {
        const c = new Client();
        clients.add(c);
        c.on('ready', () => resolve(c));
        c.on('error', reject);
        c.connect({ host: '127.0.0.1', port: instance.address.port, username: login, hostVerifier: () => true, ...auth });
      }),
    stop: async () => {
      for (const c of clients) c.end();
      await instance.stop();
      removeTempDir(dir);
    },
  };
}

/** Run one exec on a connected client: stdout, stderr and the exit code. */
export function exec(c: SshClient, command: string): Promise<{ stdout: string; stderr: string; code: number | undefined }> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err: Error | undefined, ch: ClientChannel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | undefined;
      ch.on('data', (d: Buffer) => (stdout += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (c: number) => (code = c));
      ch.on('close', () => resolve({ stdout, stderr, code }));
    });
  });
}
