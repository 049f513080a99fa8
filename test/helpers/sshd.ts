/**
 * A real OpenSSH sshd target for tests: loopback, a free high port, fresh host keys, one
 * authorized client key, and a VERBOSE log that tests read (e.g. "no connection was made").
 *
 * As root it logs in a dedicated user `warden-target` whose rc files are empty (a login
 * shell's rc files add ~100 ms per session and skew timings); otherwise the current user.
 *
 * Non-root caveat: sshd must chown the session's pty to group `tty`, which only root can do
 * unless devpts is mounted with gid=5 (Debian's default). Where it is not (this workplace's
 * VMs: `mode=600`, no gid), a non-root sshd serves exec/sftp but drops pty sessions with
 * "chown(/dev/pts/N, ...) failed: Operation not permitted". CI runs as root.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, chmodSync, chownSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  descendants,
  freePort,
  isRoot,
  makeTempDir,
  readText,
  removeTempDir,
  tail,
  trackChild,
  waitForExit,
  waitUntil,
} from './processes.js';

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
/** The login used on targets when the tests run as root. */
export const TARGET_USER = 'warden-target';

export interface SshdOptions {
  /** Fixed port; default a free high port (retried if taken meanwhile). */
  port?: number;
  /**
   * sshd_config directives that replace or add to the defaults, e.g. `{ SetEnv: 'A=b' }`.
   * (sshd keeps the first value it reads, so overriding here, not appending, is what works.)
   */
  config?: Record<string, string | number>;
  /** Raw text appended at the end of sshd_config, for `Match` blocks. */
  extraConfig?: string;
  /** More authorized_keys lines besides the generated client key. */
  authorizedKeys?: string[];
}

export interface SshdHandle {
  port: number;
  host: '127.0.0.1';
  /** The login accepted by this sshd (warden-target as root, else the current user). */
  user: string;
  /** Private ed25519 key (no passphrase) authorized for `user`. */
  clientKeyPath: string;
  /** Its public key line, "ssh-ed25519 AAAA... comment". */
  clientPublicKey: string;
  /** "ssh-ed25519 AAAA..." of the server's ed25519 host key (no comment). */
  hostKeyLine: string;
  /** SHA256:... fingerprint of that key, as `ssh-keygen -l` prints it. */
  hostKeyFingerprint: string;
  /** "ssh-rsa AAAA..." of the server's RSA host key. */
  rsaHostKeyLine: string;
  /** A different, valid ed25519 key line, for host-key mismatch tests. */
  otherHostKeyLine: string;
  /** Temp dir holding keys, config and log. */
  dir: string;
  configPath: string;
  logPath: string;
  log(): string;
  /** Number of "Connection from" lines in the log (one per accepted TCP connection). */
  connectionCount(): number;
  /** Resolve with the log once it matches `re`. */
  waitForLog(re: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Authorize another public key line for `user` (takes effect for the next auth). */
  addAuthorizedKey(line: string): void;
  /** Kill the listener and every session process it forked, then remove the dir. */
  stop(): Promise<void>;
}

/** "type base64" from a public key line (drops the comment). */
export function keyLine(pub: string): string {
  const [type, b64] = pub.trim().split(/\s+/);
  if (!type || !b64) throw new Error(`not a public key line: ${pub}`);
  return `${type} ${b64}`;
}

/** SHA256 fingerprint of a public key line, in OpenSSH's format (unpadded base64). */
export function fingerprint(pub: string): string {
  const [, b64] = keyLine(pub).split(' ');
  const digest = createHash('sha256').update(Buffer.from(b64 as string, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** A fresh ed25519 public key line made in-process (no private key kept). */
export function randomEd25519KeyLine(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const sshString = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')}`;
}

async function sshKeygen(file: string, type: 'ed25519' | 'rsa', comment: string): Promise<void> {
  const args = ['-q', '-t', type, '-N', '', '-C', comment, '-f', file];
  // 2048-bit RSA: this is a throwaway test key and 3072 costs noticeably more per sshd.
  if (type === 'rsa') args.splice(3, 0, '-b', '2048');
  await run('ssh-keygen', args);
}

let sshdVersion: Promise<[number, number]> | undefined;
/** (major, minor) of the installed sshd, from `sshd -V` (OpenSSH >= 9.x prints it). */
function getSshdVersion(): Promise<[number, number]> {
  sshdVersion ??= new Promise((resolve) => {
    execFile(SSHD_PATH, ['-V'], (_err, stdout, stderr) => {
      const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${stdout}${stderr}`);
      resolve(m ? [Number(m[1]), Number(m[2])] : [0, 0]);
    });
  });
  return sshdVersion;
}

let targetUser: Promise<string> | undefined;

/**
 * As root: make sure `warden-target` exists, is not "locked" for sshd, and has empty rc files.
 * Memoized per process; concurrent test workers may race to create the user, so "already
 * exists" and "cannot lock /etc/passwd" are retried rather than fatal.
 */
function ensureTargetUser(): Promise<string> {
  if (!isRoot) return Promise.resolve(os.userInfo().username);
  targetUser ??= (async () => {
    const exists = async (): Promise<boolean> => {
      try {
        await run('id', ['-u', TARGET_USER]);
        return true;
      } catch {
        return false;
      }
    };
    for (let attempt = 0; !(await exists()); attempt++) {
      try {
        await run('useradd', ['-m', '-s', '/bin/bash', TARGET_USER]);
      } catch (err) {
        if (attempt >= 20) throw new Error(`useradd ${TARGET_USER} failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
    // useradd leaves the password field as "!", which sshd (with UsePAM no) treats as a
    // locked account and refuses even for publickey. "*" means "no password" but not locked.
    const shadow = readText('/etc/shadow');
    const entry = shadow.split('\n').find((l) => l.startsWith(`${TARGET_USER}:`));
    if (entry?.split(':')[1]?.startsWith('!')) {
      for (let attempt = 0; ; attempt++) {
        try {
          await run('usermod', ['-p', '*', TARGET_USER]);
          break;
        } catch (err) {
          if (attempt >= 20) throw new Error(`usermod -p '*' ${TARGET_USER} failed: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        }
      }
    }
    const { stdout } = await run('getent', ['passwd', TARGET_USER]);
    const [, , uid, gid, , home] = stdout.trim().split(':');
    if (!home) throw new Error(`no home for ${TARGET_USER}`);
    mkdirSync(home, { recursive: true });
    // Empty rc files: skel's .bashrc/.profile add tens of ms to every session start.
    for (const f of ['.bashrc', '.profile']) {
      const p = path.join(home, f);
      if (readText(p) !== '') writeFileSync(p, '');
    }
    rmSync(path.join(home, '.bash_logout'), { force: true });
    writeFileSync(path.join(home, '.hushlogin'), '');
    for (const f of ['', '.bashrc', '.profile', '.hushlogin']) {
      chownSync(path.join(home, f), Number(uid), Number(gid));
    }
    return TARGET_USER;
  })();
  targetUser.catch(() => {
    targetUser = undefined;
  });
  return targetUser;
}

function renderConfig(settings: Map<string, string[]>, extra: string | undefined): string {
  const lines: string[] = ['# generated by test/helpers/sshd.ts'];
  for (const [key, values] of settings) for (const v of values) lines.push(`${key} ${v}`);
  if (extra) lines.push('', extra);
  return `${lines.join('\n')}\n`;
}

export async function startSshd(opts: SshdOptions = {}): Promise<SshdHandle> {
  if (!existsSync(SSHD_PATH)) throw new Error(`${SSHD_PATH} is missing: run node scripts/ensure-system-deps.js`);
  // sshd reads authorized_keys as the target user, so a root-owned dir must be traversable.
  const dir = makeTempDir('sshd', 0o755);
  let child: ChildProcess | undefined;
  try {
    const [user, version] = await Promise.all([ensureTargetUser(), getSshdVersion()]);
    if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir

    const hostEd = path.join(dir, 'ssh_host_ed25519_key');
    const hostRsa = path.join(dir, 'ssh_host_rsa_key');
    const clientKeyPath = path.join(dir, 'client_ed25519');
    await Promise.all([
      sshKeygen(hostEd, 'ed25519', 'warden-test-host'),
      sshKeygen(hostRsa, 'rsa', 'warden-test-host'),
      sshKeygen(clientKeyPath, 'ed25519', 'warden-test-client'),
    ]);
    const clientPublicKey = readFileSync(`${clientKeyPath}.pub`, 'utf8').trim();
    const hostKeyLine = keyLine(readFileSync(`${hostEd}.pub`, 'utf8'));
    const rsaHostKeyLine = keyLine(readFileSync(`${hostRsa}.pub`, 'utf8'));
    const authorizedKeysPath = path.join(dir, 'authorized_keys');
    writeFileSync(authorizedKeysPath, [clientPublicKey, ...(opts.authorizedKeys ?? [])].join('\n') + '\n');
    chmodSync(authorizedKeysPath, 0o644);

    const logPath = path.join(dir, 'sshd.log');
    const configPath = path.join(dir, 'sshd_config');
    const log = (): string => readText(logPath);

    const makeConfig = (port: number): string => {
      const s = new Map<string, string[]>();
      const set = (k: string, ...v: string[]): void => void s.set(k, v);
      set('Port', String(port));
      set('ListenAddress', '127.0.0.1');
      set('HostKey', hostEd, hostRsa);
      set('PidFile', path.join(dir, 'sshd.pid'));
      set('LogLevel', 'VERBOSE');
      set('UsePAM', 'no');
      set('StrictModes', 'no');
      set('PubkeyAuthentication', 'yes');
      set('PasswordAuthentication', 'no');
      set('KbdInteractiveAuthentication', 'no');
      set('AuthorizedKeysFile', authorizedKeysPath);
      set('PermitRootLogin', 'prohibit-password');
      // The key file is shared by every account: only the target user may use it.
      set('AllowUsers', user);
      set('Subsystem', 'sftp internal-sftp');
      set('AcceptEnv', 'LANG LC_*');
      // 200 concurrent sessions in load tests, each its own connection or channel.
      set('MaxSessions', '1000');
      set('MaxStartups', '1000');
      set('MaxAuthTries', '10');
      set('LoginGraceTime', '30');
      set('UseDNS', 'no');
      set('PrintMotd', 'no');
      set('PrintLastLog', 'no');
      set('X11Forwarding', 'no');
      set('AllowTcpForwarding', 'yes');
      set('PermitTTY', 'yes');
      // OpenSSH >= 9.8 penalises sources that fail auth or drop connections; tests do both
      // on purpose from 127.0.0.1 and must not be locked out by earlier tests.
      const [major, minor] = version;
      if (major > 9 || (major === 9 && minor >= 8)) set('PerSourcePenalties', 'no');
      for (const [k, v] of Object.entries(opts.config ?? {})) set(k, String(v));
      return renderConfig(s, opts.extraConfig);
    };

    let port = opts.port ?? 0;
    for (let attempt = 1; ; attempt++) {
      if (opts.port === undefined) port = await freePort();
      writeFileSync(configPath, makeConfig(port));
      writeFileSync(logPath, '');
      const fd = openSync(logPath, 'a');
      let proc: ChildProcess;
      try {
        // -D: stay in the foreground (our child); -e -E: log to the file, not syslog. Early
        // fatal errors (bad config) go to stderr, which is the same file.
        proc = spawn(SSHD_PATH, ['-D', '-e', '-E', logPath, '-f', configPath], { stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      child = proc;
      trackChild(proc);
      let spawnError: Error | undefined;
      proc.once('error', (err) => {
        spawnError = err;
      });
      try {
        // "Server listening" is logged right after listen(): the port accepts connections from
        // then on. Probing with a TCP connect instead would add a "Connection from" line.
        await waitUntil(
          `sshd on port ${port}`,
          async () => new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}\\b`).test(log()),
          {
            timeoutMs: 15_000,
            failure: () => {
              if (spawnError) return `could not start sshd: ${spawnError.message}`;
              if (proc.exitCode !== null || proc.signalCode !== null) return `sshd exited (${proc.exitCode ?? proc.signalCode})`;
              return undefined;
            },
            details: () => `--- ${logPath} ---\n${tail(log())}`,
          },
        );
        break;
      } catch (err) {
        proc.kill('SIGKILL');
        await waitForExit(proc, 2000);
        child = undefined;
        if (opts.port !== undefined || !/Address already in use/.test(log()) || attempt >= 5) throw err;
      }
    }

    const proc = child as ChildProcess;
    let stopped = false;
    return {
      port,
      host: '127.0.0.1',
      user,
      clientKeyPath,
      clientPublicKey,
      hostKeyLine,
      hostKeyFingerprint: fingerprint(hostKeyLine),
      rsaHostKeyLine,
      otherHostKeyLine: randomEd25519KeyLine(),
      dir,
      configPath,
      logPath,
      log,
      connectionCount: () => (log().match(/Connection from /g) ?? []).length,
      async waitForLog(re, timeoutMs = 30_000) {
        const regex = typeof re === 'string' ? new RegExp(re.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : re;
        await waitUntil(`sshd log to match ${regex}`, async () => regex.test(log()), {
          timeoutMs,
          details: () => `--- ${logPath} ---\n${tail(log())}`,
        });
        return log();
      },
      addAuthorizedKey(line) {
        appendFileSync(authorizedKeysPath, `${line.trim()}\n`);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        // Per-connection sshd processes call setsid() and outlive the listener: kill them too.
        const pids = proc.pid !== undefined ? descendants(proc.pid) : [];
        proc.kill('SIGTERM');
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await waitForExit(proc, 5000);
        // A connection that was mid-fork during the first pass may have left a child behind
        // (re-parented by now): its sshd re-exec carries our config path, so find it by that.
        for (const pid of sshdProcessesUsing(configPath)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        removeTempDir(dir);
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    removeTempDir(dir);
    throw err;
  }
}

/** Pids of sshd processes whose command line names this config file (per-connection re-execs). */
function sshdProcessesUsing(configPath: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(configPath)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * The authentication lines sshd (LogLevel VERBOSE) logged for the first connection it
 * accepted after log offset `from`, once that connection has ended. Any userauth request
 * names the account ("Postponed/Accepted/Failed publickey for USER", "Disconnected from user
 * USER", "authenticating user USER"), so [] means no credential was ever offered.
 */
export async function authLinesOfNextConnection(sshd: SshdHandle, from: number): Promise<string[]> {
  let port: string | undefined;
  await waitUntil('sshd logged a connection', async () => {
    port = /Connection from 127\.0\.0\.1 port (\d+)/.exec(sshd.log().slice(from))?.[1];
    return port !== undefined;
  }, { timeoutMs: 30_000, details: () => tail(sshd.log().slice(from)) });
  await sshd.waitForLog(new RegExp(`(Disconnected from|Connection closed by|Connection reset by) .*port ${port}\\b`), 30_000);
  return sshd
    .log()
    .slice(from)
    .split('\n')
    .filter((l) => l.includes(`port ${port}`) || /Accepted key/.test(l))
    .filter((l) => l.includes(sshd.user) || /publickey|password|Accepted|Postponed|Failed/.test(l));
}
