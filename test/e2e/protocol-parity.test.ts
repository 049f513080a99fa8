/**
 * Protocol parity with OpenSSH for stock clients: long exec command lines, dropbear's dbclient
 * (a guessed KEX packet), and the auth-try limit answered as sshd answers it. The first two
 * depend on Warden's ssh2 patch (patches/): these tests fail if it is lost.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir, trackChild } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, sshCommand } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { ALICE_PASSWORD, startWarden, type WardenHandle } from '../helpers/warden.js';
import { ssh2PatchStatus } from '../../src/ssh2-patched.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let tmp: string;

beforeAll(async () => {
  tmp = makeTempDir('parity-');
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  // A generous grace time: six scrypt checks on a loaded machine can take longer than 2 s.
  warden = await startWarden({ redisUrl: redis.url, sshd, auth: '{ maxTries: 6, loginGraceTime: 60s }' });
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  if (tmp) removeTempDir(tmp);
});

/**
 * Run `ssh ... HOST piece1 piece2 ...`: ssh joins its arguments with spaces into one command,
 * which is how a command longer than Linux's 128 KiB per-argument limit is sent at all.
 */
function sshPieces(port: number, login: string, identity: string, pieces: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { argv } = sshCommand({ port, login, identity });
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, [...argv.slice(1), ...pieces], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
const direct = (pieces: string[]) => sshPieces(sshd.port, sshd.user, sshd.clientKeyPath, pieces);
const viaWarden = (pieces: string[]) => sshPieces(warden.port, 'alice@target@web1', warden.aliceKey, pieces);

/** A shell command of `bytes` payload bytes (in 50 KB words) that prints its payload's length. */
function longCommand(bytes: number): string[] {
  const words = Array.from({ length: Math.ceil(bytes / 50_000) }, (_, i) => 'a'.repeat(Math.min(50_000, bytes - i * 50_000)));
  return ['set', '--', ...words, ';', 'echo', '"$*"', '|', 'wc', '-c'];
}

describe('the installed ssh2 carries Warden\'s patch', () => {
  it('has every change the patch makes', () => {
    expect(ssh2PatchStatus()).toEqual({ packetSize: true, kexGuess: true, reasons: true, window: true });
  });
});

describe('long exec command lines (OpenSSH accepts 256 KiB packets; unpatched ssh2 35000 bytes)', () => {
  it('a 100 KB command runs through Warden as it does direct', async () => {
    const cmd = longCommand(100_000);
    const [d, w] = await Promise.all([direct(cmd), viaWarden(cmd)]);
    expect(d.out).toBe('100002\n');
    expect(w).toEqual(d);
  });

  it('a 200 KB command gets the same answer through Warden as direct, and the connection lives', async () => {
    // Linux caps one exec argument at 128 KiB, so the target's shell itself refuses it (E2BIG):
    // what matters is that Warden passes the request and the target's answer through, instead
    // of dropping the connection (exit 255, "Connection closed").
    const cmd = longCommand(200_000);
    const [d, w] = await Promise.all([direct(cmd), viaWarden(cmd)]);
    expect(d.code).not.toBe(255);
    expect(w).toEqual(d);
  });
});

describe('dropbear dbclient (sends a guessed KEX packet with first_kex_packet_follows)', () => {
  it('connects through Warden and runs a command, exit status passed back', async () => {
    const home = makeTempDir('dbclient-home-');
    try {
      const child = spawn('dbclient', ['-y', '-y', '-p', String(warden.port), '-l', 'alice@target@web1', '127.0.0.1', 'echo via-dropbear; exit 3'], {
        env: { PATH: process.env.PATH, HOME: home, DROPBEAR_PASSWORD: ALICE_PASSWORD },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      trackChild(child);
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      clearTimeout(timer);
      expect({ code, out }, err).toEqual({ code: 3, out: 'via-dropbear\n' });
    } finally {
      removeTempDir(home);
    }
  });
});

describe('auth tries like OpenSSH', () => {
  it('6 wrong passwords: exactly 6 prompts, then "Too many authentication failures"', async () => {
    const counter = path.join(tmp, 'prompts');
    writeFileSync(counter, '');
    const askpass = path.join(tmp, 'askpass-count.sh');
    writeFileSync(askpass, `#!/bin/sh\necho x >> '${counter}'\necho wrong-password\n`, { mode: 0o700 });
    const res = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn('ssh', [
        ...BASE_OPTIONS, '-o', 'BatchMode=no', '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no',
        '-o', 'NumberOfPasswordPrompts=20', '-o', 'LogLevel=INFO', '-p', String(warden.port), '-l', 'alice@web1', '127.0.0.1', 'true',
      ], { env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, stdio: ['ignore', 'ignore', 'pipe'] });
      trackChild(child);
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, err }));
    });
    expect(readFileSync(counter, 'utf8').split('\n').filter(Boolean), res.err).toHaveLength(6);
    expect(res.code).toBe(255);
    expect(res.err).toContain('Too many authentication failures');
  });
});
