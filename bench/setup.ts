/**
 * The benchmark's world, built from the test harness: one Redis, the target sshd, a second
 * sshd as the OpenSSH jump host, a third "probe" sshd at LogLevel DEBUG1 (only to read which
 * cipher Warden negotiates on its target hop), and Warden as its own process
 * (`node bin/warden.js start`), exactly as deployed.
 *
 * Everything started is pushed on a teardown stack; `stop()` unwinds it (also after a
 * partial start), and the harness' exit hooks SIGKILL whatever is left if we die.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client as ClientT, ClientChannel, ConnectConfig } from 'ssh2';
import { Client } from '../src/ssh2.js';
import {
  freePort,
  makeTempDir,
  readText,
  removeTempDir,
  tail,
  trackChild,
  tryConnect,
  waitForExit,
  waitUntil,
} from '../test/helpers/processes.js';
import { REPO_ROOT, startRedis, type RedisHandle } from '../test/helpers/redis.js';
import { BASE_OPTIONS, sshCommand } from '../test/helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../test/helpers/sshd.js';
import { writeWardenConfig } from '../test/helpers/warden.js';
import type { PathName } from './types.js';

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

export interface BenchPath {
  name: PathName;
  /** The real OpenSSH client with default algorithms, running `command` on the target. */
  ssh(command: string, extraArgs?: string[]): SshInvocation;
  /** An ssh2 client in this process, authenticated on the target (through this path). */
  connect(): Promise<Ssh2Connection>;
}

export interface WardenProcess {
  port: number;
  pid: number;
  dir: string;
  configFile: string;
  logPath: string;
  aliceKey: string;
  log(): string;
}

export interface BenchEnv {
  redis: RedisHandle;
  target: SshdHandle;
  jump: SshdHandle;
  probe: SshdHandle;
  warden: WardenProcess;
  paths: Record<PathName, BenchPath>;
  /** The extra YAML given with --warden-yaml ('' if none). */
  wardenYaml: string;
  /** Login on Warden for the given asset (web1 = target, probe = the probe sshd). */
  wardenLogin(asset: 'web1' | 'probe'): string;
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

function ssh2Connect(config: ConnectConfig): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let cipher = '?';
    client.once('handshake', (n) => (cipher = n.cs.cipher === n.sc.cipher ? n.cs.cipher : `${n.cs.cipher} / ${n.sc.cipher}`));
    client.once('ready', () => {
      client.setNoDelay(true);
      resolve({ client, cipher });
    });
    client.once('error', reject);
    client.connect({ readyTimeout: 30_000, ...config });
  });
}

async function startWardenProcess(
  redis: RedisHandle,
  target: SshdHandle,
  probe: SshdHandle,
  extraYaml: string,
  teardown: Teardown,
): Promise<WardenProcess> {
  const dir = makeTempDir('bench-warden');
  teardown.push('warden dir', () => removeTempDir(dir));
  const logPath = path.join(dir, 'warden.log');
  const bin = path.join(REPO_ROOT, 'bin', 'warden.js');

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // writeWardenConfig makes alice's key with ssh-keygen, which will not overwrite on a retry.
    for (const f of ['alice_ed25519', 'alice_ed25519.pub']) rmSync(path.join(dir, f), { force: true });
    // A fixed port: Warden runs as its own process. The probe asset shares the `target`
    // account's key (the probe sshd authorizes it).
    const { configFile, aliceKey } = await writeWardenConfig(dir, {
      redisUrl: redis.url,
      sshd: target,
      port,
      extraGrants: '  - { users: [alice], assets: [probe], accounts: [target] }',
      extraYaml,
    });
    const yaml = readFileSync(configFile, 'utf8').replace(
      /^assets:\n/m,
      `assets:\n  probe: { host: 127.0.0.1, port: ${probe.port}, hostKey: "${probe.hostKeyLine}" }\n`,
    );
    if (!yaml.includes(`listen: 127.0.0.1:${port}`) || !yaml.includes('  probe: ')) {
      throw new Error(`unexpected Warden config from writeWardenConfig: ${configFile}`);
    }
    writeFileSync(configFile, yaml);
    writeFileSync(logPath, '');
    const fd = openSync(logPath, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, WARDEN_LOG_LEVEL: 'warn' };
    // tsx's loader must not end up in Warden: it runs the compiled dist/ like a deployment.
    if (env.NODE_OPTIONS?.includes('tsx')) delete env.NODE_OPTIONS;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [bin, 'start', '--config', configFile], { cwd: dir, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    trackChild(child);
    const proc = child;
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    try {
      await waitUntil(`warden on port ${port}`, () => tryConnect(port), {
        timeoutMs: 20_000,
        intervalMs: 50,
        failure: () => {
          if (spawnError) return `cannot start warden: ${spawnError.message}`;
          if (proc.exitCode !== null || proc.signalCode !== null) return `warden exited (${proc.exitCode ?? proc.signalCode})`;
          return undefined;
        },
        details: () => `--- ${logPath} ---\n${tail(readText(logPath))}`,
      });
    } catch (err) {
      proc.kill('SIGKILL');
      await waitForExit(proc, 2000);
      if (!/EADDRINUSE/.test(readText(logPath)) || attempt >= 5) throw err;
      continue;
    }
    teardown.push('warden', async () => {
      proc.kill('SIGTERM');
      await waitForExit(proc, 5000);
    });
    return { port, pid: proc.pid!, dir, configFile, logPath, aliceKey, log: () => readText(logPath) };
  }
}

export interface SetupOptions {
  /** Top-level YAML appended to Warden's config, e.g. `recording: { enabled: false }`. */
  wardenYaml?: string;
}

export async function setupBench(teardown: Teardown, progress: (m: string) => void, opts: SetupOptions = {}): Promise<BenchEnv> {
  progress('starting redis-server and three sshd (target, jump host, cipher probe)');
  const redis = await startRedis();
  teardown.push('redis', () => redis.stop());
  // The target takes 200 idle sessions (one connection each) in the RSS measurement.
  const target = await startSshd({ config: { MaxStartups: '400:30:500', MaxSessions: 400 } });
  teardown.push('target sshd', () => target.stop());
  const jump = await startSshd();
  teardown.push('jump sshd', () => jump.stop());
  // DEBUG1 logs "kex: client->server cipher: ..." for the connection Warden makes; kept off
  // the measured target so its logging costs nothing there.
  const probe = await startSshd({ config: { LogLevel: 'DEBUG1' }, authorizedKeys: [target.clientPublicKey] });
  teardown.push('probe sshd', () => probe.stop());

  progress('starting warden (node bin/warden.js start)');
  const warden = await startWardenProcess(redis, target, probe, opts.wardenYaml ?? '', teardown);
  const targetKey = readFileSync(target.clientKeyPath);
  const jumpKey = readFileSync(jump.clientKeyPath);
  const aliceKey = readFileSync(warden.aliceKey);
  const wardenLogin = (asset: 'web1' | 'probe'): string => `alice@target@${asset}`;

  // ssh -J would not pass -F /dev/null, -i or -o to the jump connection: spell it out.
  const proxyCommand = [
    'ssh',
    ...BASE_OPTIONS,
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
      ssh: (command, extraArgs = []) => sshCommand({ port: target.port, login: target.user, identity: target.clientKeyPath, command, extraArgs }),
      connect: async () => {
        const { client, cipher } = await ssh2Connect({ host: '127.0.0.1', port: target.port, username: target.user, privateKey: targetKey });
        return { client, cipher, close: () => client.end() };
      },
    },
    warden: {
      name: 'warden',
      ssh: (command, extraArgs = []) => sshCommand({ port: warden.port, login: wardenLogin('web1'), identity: warden.aliceKey, command, extraArgs }),
      connect: async () => {
        const { client, cipher } = await ssh2Connect({ host: '127.0.0.1', port: warden.port, username: wardenLogin('web1'), privateKey: aliceKey });
        return { client, cipher, close: () => client.end() };
      },
    },
    proxyjump: {
      name: 'proxyjump',
      ssh: (command, extraArgs = []) =>
        sshCommand({
          port: target.port,
          login: target.user,
          identity: target.clientKeyPath,
          command,
          extraArgs: ['-o', `ProxyCommand=${proxyCommand}`, ...extraArgs],
        }),
      // What `ssh -J` does, with ssh2: a direct-tcpip channel through the jump host carries
      // the inner SSH connection to the target.
      connect: async () => {
        const { client: hop } = await ssh2Connect({ host: '127.0.0.1', port: jump.port, username: jump.user, privateKey: jumpKey });
        try {
          const sock = await new Promise<ClientChannel>((resolve, reject) =>
            hop.forwardOut('127.0.0.1', 0, '127.0.0.1', target.port, (err, ch) => (err ? reject(err) : resolve(ch))),
          );
          const { client, cipher } = await ssh2Connect({ sock, username: target.user, privateKey: targetKey });
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

  return { redis, target, jump, probe, warden, paths, wardenLogin, wardenYaml: opts.wardenYaml ?? '' };
}
