/**
 * What the numbers were measured on, and two sanity checks that decide whether they mean
 * anything: the target account's shell runs no rc files, and which cipher and key exchange each
 * hop uses in each crypto set (crypto.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { nativeCryptoAvailable } from '../src/native-check.js';
import { REPO_ROOT } from '../test/helpers/redis.js';
import { sshCommand } from '../test/helpers/ssh-client.js';
import { exited, spawnSsh } from './openssh.js';
import { CRYPTO, EQUAL_CIPHER, EQUAL_KEX } from './crypto.js';
import type { BenchEnv, SshInvocation } from './setup.js';

function versionOf(cmd: string, args: string[]): string {
  // ssh -V and sshd -V print on stderr (older sshd -V also exits 1).
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n')[0] || '?';
}

export function machineInfo(): string[] {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // keep Node's figure
  }
  const sshClient = versionOf('ssh', ['-V']);
  let ssh2Version = '?';
  try {
    ssh2Version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', 'ssh2', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // unknown
  }
  return [
    `date: ${new Date().toISOString()}`,
    `nproc: ${nproc}; CPU: ${cpu}; memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel: ${os.release()}`,
    `node: ${process.version}; OpenSSH client: ${sshClient}; sshd: ${versionOf('/usr/sbin/sshd', ['-V'])}`,
    `ssh2: ${ssh2Version}, native crypto binding: ${nativeCryptoAvailable() ? 'yes' : 'NO (relay ~15x slower)'}`,
  ];
}

async function run(inv: SshInvocation): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnSsh(inv, 'ignore');
  let stdout = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (stdout += d));
  const res = await exited(child, 30_000, new AbortController().signal);
  return { code: res.code, stdout, stderr: res.stderr };
}

/** "chacha20-poly1305@openssh.com" (both directions) from `ssh -v` / sshd DEBUG1 output. */
function ciphers(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/kex: (?:client->server|server->client) cipher: (\S+) MAC: (\S+)/g)) {
    found.add(m[2] === '<implicit>' ? m[1]! : `${m[1]} + ${m[2]}`);
  }
  const kex = new Set([...text.matchAll(/kex: algorithm: (\S+)/g)].map((m) => m[1]!));
  return [...found].map((c) => `${c}${kex.size ? ` (kex ${[...kex].join('/')})` : ''}`);
}

export async function sanityChecks(env: BenchEnv): Promise<{ lines: string[]; problems: string[] }> {
  const lines: string[] = [];
  const problems: string[] = [];

  try {
    const cfg = loadConfig(env.warden.configFile);
    lines.push(
      `Warden config: shipped defaults (recording ${cfg.recording.enabled ? 'ON' : 'off'}, input ${cfg.recording.input ? 'on' : 'off'}; ` +
        `log level ${process.env.WARDEN_LOG_LEVEL ? 'from WARDEN_LOG_LEVEL' : 'info'}; loginGraceTime ${cfg.auth.loginGraceTime / 1000} s; ` +
        `registry flush ${cfg.registry.activityFlushInterval / 1000} s; idle timeout ${(cfg.session.idleTimeout ?? 0) / 60000} min)` +
        `${env.wardenYaml ? `; extra YAML: \`${env.wardenYaml.replace(/\s+/g, ' ').trim()}\`` : ''}`,
    );
  } catch (err) {
    problems.push(`cannot read Warden's config back: ${(err as Error).message}`);
  }

  // rc files: bash sources ~/.bashrc even for `ssh host cmd` (Debian), so they must be empty.
  const rc = await run(env.paths.direct.ssh('echo "$0"; cat ~/.bashrc ~/.profile ~/.bash_profile ~/.bash_login 2>/dev/null | wc -c', { crypto: CRYPTO.defaults }));
  const [shell, rcBytes] = rc.stdout.trim().split('\n');
  lines.push(`target user ${env.target.user}: shell \`${shell}\`, rc files ${rcBytes?.trim()} bytes`);
  if (rc.code !== 0 || rcBytes?.trim() !== '0') problems.push(`the target user's rc files are not empty (${rcBytes?.trim()} bytes): session figures include them`);

  for (const set of ['equal', 'defaults'] as const) {
    const crypto = CRYPTO[set];
    const opts = { crypto, extraArgs: ['-v'] };
    const direct = await run(env.paths.direct.ssh('true', opts));
    const probeLogBefore = env.probe.log().length;
    const viaWarden = await run(
      sshCommand({ port: env.warden.port, login: env.wardenLogin('probe'), identity: env.warden.aliceKey, command: 'true', extraArgs: [...crypto.opensshArgs, '-v'] }),
    );
    const jump = await run(env.paths.proxyjump.ssh('true', opts));
    const targetHop = ciphers(env.probe.log().slice(probeLogBefore));
    lines.push(`[${set}] direct (OpenSSH → sshd): ${ciphers(direct.stderr).join(', ') || '?'}`);
    lines.push(`[${set}] Warden hop 1 (OpenSSH → Warden): ${ciphers(viaWarden.stderr).join(', ') || '?'}`);
    lines.push(`[${set}] Warden hop 2 (Warden → sshd, from the probe sshd's DEBUG1 log): ${targetHop.join(', ') || '?'}`);
    lines.push(
      `[${set}] ProxyJump inner (OpenSSH → target through the jump): ${ciphers(jump.stderr).join(', ') || '?'}; ` +
        (set === 'equal' ? 'the jump hop is forced to the same pair' : 'the jump hop is OpenSSH ↔ OpenSSH with the same defaults'),
    );
    for (const [what, res] of [['direct', direct], ['through Warden', viaWarden], ['ProxyJump', jump]] as const) {
      if (res.code !== 0) problems.push(`[${set}] cipher probe ${what} failed (exit ${res.code}): ${res.stderr.split('\n').filter((l) => !l.startsWith('debug')).join(' ')}`);
    }
    if (set === 'equal' && !targetHop.some((c) => c.startsWith(EQUAL_CIPHER) && c.includes(`kex ${EQUAL_KEX})`))) {
      problems.push(`Warden's target hop did not negotiate ${EQUAL_CIPHER} with ${EQUAL_KEX} (${targetHop.join(', ') || 'nothing in the probe log'}): the "equal crypto" rows are not equal`);
    }
  }
  return { lines, problems };
}
