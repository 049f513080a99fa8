/**
 * Run the real OpenSSH clients (ssh, scp, sftp) non-interactively, with no user config,
 * no known_hosts, no agent and no control master, so the test machine's ~/.ssh never leaks in.
 *
 * Password auth goes through SSH_ASKPASS (a temp script that prints $WARDEN_TEST_PASSWORD)
 * with SSH_ASKPASS_REQUIRE=force, so no tty is needed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir, removeTempDir, trackChild } from './processes.js';

export interface ClientAuth {
  /** Port of the SSH server (Warden or a test sshd). */
  port: number;
  /** The login name (`ssh -l`), passed verbatim, so it may contain '@' or '+'. */
  login: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Password auth (only): answered through SSH_ASKPASS. */
  password?: string;
  /** Public-key auth (only) with this private key file. */
  identity?: string;
}

export interface RunOptions extends ClientAuth {
  /** Bytes for the client's stdin; when absent stdin is /dev/null. */
  stdin?: Buffer | string;
  /** SIGKILL the client after this long (default 30 s); `timedOut` is then true. */
  timeoutMs?: number;
  /** More client arguments, placed before the destination (e.g. ['-tt'], ['-o', 'X=y']). */
  extraArgs?: string[];
  /** Extra environment for the client process. */
  env?: Record<string, string>;
}

export interface SshOptions extends RunOptions {
  /** Remote command; absent means a shell session. */
  command?: string;
}

export interface ScpOptions extends RunOptions {
  /**
   * Source path(s) and target. A path starting with `remote:` names a file on the server
   * (`remote:/tmp/x` becomes `HOST:/tmp/x`); anything else is local.
   */
  from: string | string[];
  to: string;
  /** `-O`: the legacy SCP protocol (`scp -t` over exec) instead of SFTP (OpenSSH >= 9 default). */
  legacy?: boolean;
}

export interface SftpOptions extends RunOptions {
  /** Batch commands (`sftp -b`); a failing command aborts the batch unless prefixed with '-'. */
  batch: string[] | string;
}

export interface ClientResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  timedOut: boolean;
}

/** (major, minor) of the installed OpenSSH client, from `ssh -V`. */
export const SSH_CLIENT_VERSION: readonly [number, number] = (() => {
  const res = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${res.stdout ?? ''}${res.stderr ?? ''}`);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
})();

/** Options common to ssh, scp and sftp: nothing from the machine's own config or keys. */
export const BASE_OPTIONS: readonly string[] = [
  '-F', '/dev/null',
  '-o', 'StrictHostKeyChecking=no',
  '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'GlobalKnownHostsFile=/dev/null',
  '-o', 'LogLevel=ERROR',
  '-o', 'IdentityAgent=none',
  '-o', 'ControlMaster=no',
  '-o', 'ControlPath=none',
  '-o', 'ConnectTimeout=10',
  // OpenSSH >= 10.1 warns on stderr about every non-post-quantum key exchange, which is all
  // ssh2 offers; older clients reject the option, so add it only where it exists.
  ...(SSH_CLIENT_VERSION[0] > 10 || (SSH_CLIENT_VERSION[0] === 10 && SSH_CLIENT_VERSION[1] >= 1)
    ? ['-o', 'WarnWeakCrypto=no']
    : []),
];

let askpassDir: string | undefined;
function askpassScript(): string {
  if (!askpassDir) askpassDir = makeTempDir('askpass');
  const file = path.join(askpassDir, 'askpass.sh');
  // The password comes from the environment, so the script holds no secret and needs no quoting.
  writeFileSync(file, '#!/bin/sh\nprintf \'%s\\n\' "$WARDEN_TEST_PASSWORD"\n', { mode: 0o700 });
  return file;
}

/** Remove the askpass temp dir now (it is also removed when the process exits). */
export function cleanupSshClient(): void {
  if (askpassDir) removeTempDir(askpassDir);
  askpassDir = undefined;
}

function authArgs(opts: ClientAuth): { args: string[]; env: Record<string, string> } {
  if (opts.password !== undefined && opts.identity !== undefined) {
    throw new Error('give either password or identity, not both');
  }
  if (opts.password !== undefined) {
    return {
      args: [
        '-o', 'BatchMode=no',
        '-o', 'PreferredAuthentications=password',
        '-o', 'PubkeyAuthentication=no',
        '-o', 'KbdInteractiveAuthentication=no',
        '-o', 'NumberOfPasswordPrompts=1',
      ],
      env: {
        SSH_ASKPASS: askpassScript(),
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: process.env.DISPLAY ?? ':0',
        WARDEN_TEST_PASSWORD: opts.password,
      },
    };
  }
  if (opts.identity !== undefined) {
    return {
      args: [
        '-o', 'BatchMode=yes',
        '-i', opts.identity,
        '-o', 'IdentitiesOnly=yes',
        '-o', 'PreferredAuthentications=publickey',
        '-o', 'PasswordAuthentication=no',
        '-o', 'KbdInteractiveAuthentication=no',
      ],
      env: {},
    };
  }
  // Neither: "none" auth only; useful to probe what the server does before auth.
  return { args: ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'PubkeyAuthentication=no'], env: {} };
}

export function runClient(program: string, args: string[], opts: RunOptions, extraEnv: Record<string, string>): Promise<ClientResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, ...(opts.env ?? {}) };
    // An inherited SSH_AUTH_SOCK would be ignored (IdentityAgent=none), but keep it out anyway.
    delete env.SSH_AUTH_SOCK;
    const child = spawn(program, args, {
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env,
    });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
        timedOut,
      });
    });
    if (child.stdin) {
      // The server may close the channel before reading everything: not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin);
    }
  });
}

/**
 * argv and environment of the same ssh invocation as runSsh, for running it elsewhere, e.g.
 * in a tmux terminal: `startTerminal({ command: c.argv, env: c.env, ... })`. `tty` adds -tt.
 */
export function sshCommand(
  opts: ClientAuth & { command?: string; extraArgs?: string[]; tty?: boolean },
): { argv: string[]; env: Record<string, string> } {
  const auth = authArgs(opts);
  const argv = [
    'ssh',
    ...BASE_OPTIONS,
    ...auth.args,
    '-p', String(opts.port),
    '-l', opts.login,
    ...(opts.tty ? ['-tt'] : []),
    ...(opts.extraArgs ?? []),
    '--',
    opts.host ?? '127.0.0.1',
  ];
  if (opts.command !== undefined) argv.push(opts.command);
  return { argv, env: auth.env };
}

/** `ssh -l LOGIN -p PORT HOST [command]` with the base options. */
export function runSsh(opts: SshOptions): Promise<ClientResult> {
  const { argv, env } = sshCommand(opts);
  return runClient(argv[0] as string, argv.slice(1), opts, env);
}

/** `scp -P PORT -o User=LOGIN ...`; see ScpOptions for the `remote:` convention. */
export function runScp(opts: ScpOptions): Promise<ClientResult> {
  const auth = authArgs(opts);
  const host = opts.host ?? '127.0.0.1';
  const toArg = (p: string): string => (p.startsWith('remote:') ? `${host}:${p.slice('remote:'.length)}` : p);
  const from = Array.isArray(opts.from) ? opts.from : [opts.from];
  const args = [
    ...BASE_OPTIONS,
    ...auth.args,
    // User= rather than user@host: the login may itself contain '@'.
    '-o', `User=${opts.login}`,
    '-P', String(opts.port),
    ...(opts.legacy ? ['-O'] : []),
    ...(opts.extraArgs ?? []),
    '--',
    ...from.map(toArg),
    toArg(opts.to),
  ];
  return runClient('scp', args, opts, auth.env);
}

/** `sftp -b BATCHFILE -P PORT -o User=LOGIN HOST`. */
export async function runSftp(opts: SftpOptions): Promise<ClientResult> {
  const auth = authArgs(opts);
  const dir = makeTempDir('sftp-batch');
  try {
    const batchFile = path.join(dir, 'batch');
    const lines = Array.isArray(opts.batch) ? opts.batch : [opts.batch];
    writeFileSync(batchFile, `${lines.join('\n')}\n`);
    const args = [
      ...BASE_OPTIONS,
      // sftp -b appends "-oBatchMode=yes" to ssh's arguments; ssh keeps the FIRST value of an
      // option, so auth.args (BatchMode=no for passwords) placed before -b still win.
      ...auth.args,
      '-o', `User=${opts.login}`,
      '-P', String(opts.port),
      ...(opts.extraArgs ?? []),
      '-b', batchFile,
      '--',
      opts.host ?? '127.0.0.1',
    ];
    return await runClient('sftp', args, opts, auth.env);
  } finally {
    removeTempDir(dir);
  }
}
