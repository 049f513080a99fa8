/**
 * The benchmark's world, built from the test harness: one Redis, the target sshd, a second
 * sshd as the OpenSSH jump host, a third "probe" sshd at LogLevel DEBUG1 (only to read which
 * cipher Warden negotiates on its target hop), a text file on the target for the recorded-text
 * rows, and Warden as its own process with the shipped defaults (warden-process.ts).
 *
 * Everything started is pushed on a teardown stack; `stop()` unwinds it (also after a
 * partial start), and the harness' exit hooks SIGKILL whatever is left if we die.
 */
import { readFileSync } from 'node:fs';
import type { Client as ClientT, ClientChannel, ConnectConfig } from 'ssh2';
import { Client } from '../src/ssh2.js';
import { startRedis, type RedisHandle } from '../test/helpers/redis.js';
import { BASE_OPTIONS, sshCommand } from '../test/helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../test/helpers/sshd.js';
import type { CryptoSet } from './crypto.js';
import { makeTextFile, type TextFile } from './text-file.js';
import type { PathName } from './types.js';
import { startBenchWarden, type BenchWarden } from './warden-process.js';

export const PATHS: readonly PathName[] = ['direct', 'warden', 'proxyjump'];

export interface SshInvocation {
  argv: string[];
  env: Record<string, string>;
}

export interface Ssh2Connection {
  client: ClientT;
  /** Ciphers negotiated by the (last hop of the) connection, "client->server / server->client". */
  cipher: string;
  /** Close the connection (and the jump connection under it). */
  close(): void;
}

export interface SshOptions {
  /** Algorithms forced on every OpenSSH client hop of the path (crypto.ts). */
  crypto: CryptoSet;
  /** `-tt`: a terminal even though stdin is a pipe. */
  tty?: boolean;
  extraArgs?: string[];
}

export interface BenchPath {
  name: PathName;
  /** The real OpenSSH client running `command` on the target (undefined: a login shell). */
  ssh(command: string | undefined, opts: SshOptions): SshInvocation;
  /** An ssh2 client in this process, authenticated on the target (through this path). */
  connect(crypto: CryptoSet): Promise<Ssh2Connection>;
}

export interface BenchEnv {
  redis: RedisHandle;
  target: SshdHandle;
  jump: SshdHandle;
  probe: SshdHandle;
  warden: BenchWarden;
  paths: Record<PathName, BenchPath>;
  /** A text file on the target (readable by the target account). */
  text: TextFile;
  /** The extra YAML given with --warden-yaml ('' if none). */
  wardenYaml: string;
  /** Login on Warden for the given asset (web1 = target, probe = the probe sshd). */
  wardenLogin(asset: 'web1' | 'probe' | 'idle1'): string;
}

/** Things to undo, last first. */
export class Teardown {
  private readonly steps: Array<{ what: string; fn: () => Promise<void> | void }> = [];
  private running?: Promise<void>;

  push(what: string, fn: () => Promise<void> | void): void {
    this.steps.push({ what, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`teardown: ${step.what}: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }
}

interface Connected {
  client: ClientT;
  cipher: string;
}

export function ssh2Connect(config: ConnectConfig, crypto: CryptoSet): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let cipher = '?';
    client.once('handshake', (n) => (cipher = `${n.cs.cipher === n.sc.cipher ? n.cs.cipher : `${n.cs.cipher} / ${n.sc.cipher}`} (kex ${n.kex})`));
    client.once('ready', () => {
      client.setNoDelay(true);
      resolve({ client, cipher });
    });
    client.once('error', reject);
    const algorithms = crypto.ssh2 ? { algorithms: { cipher: crypto.ssh2.cipher, kex: crypto.ssh2.kex } as ConnectConfig['algorithms'] } : {};
    client.connect({ readyTimeout: 30_000, ...algorithms, ...config });
  });
}

const extra = (o: SshOptions, more: string[] = []): string[] => [...o.crypto.opensshArgs, ...more, ...(o.extraArgs ?? [])];

export const wardenLogin = (asset: 'web1' | 'probe' | 'idle1'): string => `alice@target@${asset}`;

/** The "warden" path through a given Warden process (alice, asset web1). */
export function wardenBenchPath(warden: BenchWarden): BenchPath {
  const aliceKey = readFileSync(warden.aliceKey);
  return {
    name: 'warden',
    ssh: (command, o) => sshCommand({ port: warden.port, login: wardenLogin('web1'), identity: warden.aliceKey, command, tty: o.tty, extraArgs: extra(o) }),
    connect: async (crypto) => {
      const { client, cipher } = await ssh2Connect({ host: '127.0.0.1', port: warden.port, username: wardenLogin('web1'), privateKey: aliceKey }, crypto);
      return { client, cipher, close: () => client.end() };
    },
  };
}

/** A redis-server and a target sshd for an experiment (bench/experiments), both undone by `teardown`. */
export async function startRedisAndTarget(teardown: Teardown): Promise<{ redis: RedisHandle; target: SshdHandle }> {
  const redis = await startRedis();
  teardown.push('redis', () => redis.stop());
  const target = await startSshd();
  teardown.push('sshd', () => target.stop());
  return { redis, target };
}

export interface SetupOptions {
  /** Top-level YAML appended to Warden's config, e.g. `recording: { enabled: false }`. */
  wardenYaml?: string;
  /** Size of the text file on the target. */
  textBytes: number;
}

export async function setupBench(teardown: Teardown, progress: (m: string) => void, opts: SetupOptions): Promise<BenchEnv> {
  progress('starting redis-server and three sshd (target, jump host, cipher probe)');
  const redis = await startRedis();
  teardown.push('redis', () => redis.stop());
  // The target takes 1000 idle sessions (one connection each, logged in a few at a time) in idle-rss.ts.
  const target = await startSshd({ config: { MaxStartups: '400:30:500', MaxSessions: 400 } });
  teardown.push('target sshd', () => target.stop());
  const jump = await startSshd();
  teardown.push('jump sshd', () => jump.stop());
  // DEBUG1 logs "kex: client->server cipher: ..." for the connection Warden makes; kept off
  // the measured target so its logging costs nothing there.
  const probe = await startSshd({ config: { LogLevel: 'DEBUG1' }, authorizedKeys: [target.clientPublicKey] });
  teardown.push('probe sshd', () => probe.stop());

  progress(`writing a ${(opts.textBytes / 1048576).toFixed(0)} MiB text file for the target`);
  const text = makeTextFile(opts.textBytes);
  teardown.push('text file', () => text.remove());

  progress('starting warden (node bin/warden.js start, shipped defaults)');
  const warden = await startBenchWarden({ redisUrl: redis.url, target, probe, extraYaml: opts.wardenYaml });
  teardown.push('warden', () => warden.stop());
  const targetKey = readFileSync(target.clientKeyPath);
  const jumpKey = readFileSync(jump.clientKeyPath);

  // ssh -J would not pass -F /dev/null, -i or -o to the jump connection: spell it out.
  const proxyCommand = (crypto: CryptoSet): string =>
    [
      'ssh',
      ...BASE_OPTIONS,
      ...crypto.opensshArgs,
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-i', jump.clientKeyPath,
      '-W', '%h:%p',
      '-p', String(jump.port),
      '-l', jump.user,
      '127.0.0.1',
    ].join(' ');

  const paths: Record<PathName, BenchPath> = {
    direct: {
      name: 'direct',
      ssh: (command, o) => sshCommand({ port: target.port, login: target.user, identity: target.clientKeyPath, command, tty: o.tty, extraArgs: extra(o) }),
      connect: async (crypto) => {
        const { client, cipher } = await ssh2Connect({ host: '127.0.0.1', port: target.port, username: target.user, privateKey: targetKey }, crypto);
        return { client, cipher, close: () => client.end() };
      },
    },
    warden: wardenBenchPath(warden),
    proxyjump: {
      name: 'proxyjump',
      ssh: (command, o) =>
        sshCommand({
          port: target.port,
          login: target.user,
          identity: target.clientKeyPath,
          command,
          tty: o.tty,
          extraArgs: extra(o, ['-o', `ProxyCommand=${proxyCommand(o.crypto)}`]),
        }),
      // What `ssh -J` does, with ssh2: a direct-tcpip channel through the jump host carries
      // the inner SSH connection to the target.
      connect: async (crypto) => {
        const { client: hop } = await ssh2Connect({ host: '127.0.0.1', port: jump.port, username: jump.user, privateKey: jumpKey }, crypto);
        try {
          const sock = await new Promise<ClientChannel>((resolve, reject) =>
            hop.forwardOut('127.0.0.1', 0, '127.0.0.1', target.port, (err, ch) => (err ? reject(err) : resolve(ch))),
          );
          const { client, cipher } = await ssh2Connect({ sock, username: target.user, privateKey: targetKey }, crypto);
          return {
            client,
            cipher,
            close: () => {
              client.end();
              hop.end();
            },
          };
        } catch (err) {
          hop.end();
          throw err;
        }
      },
    },
  };

  return { redis, target, jump, probe, warden, paths, text, wardenLogin, wardenYaml: opts.wardenYaml ?? '' };
}
