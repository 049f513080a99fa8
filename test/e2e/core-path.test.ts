/**
 * The core path end to end: real OpenSSH clients → Warden (in this process) → real sshd,
 * with the registry in a real redis-server started from redis.conf.
 */
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runScp, runSftp, runSsh } from '../helpers/ssh-client.js';
import { spawn } from 'node:child_process';
import { authLinesOfNextConnection, startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTerminal } from '../helpers/tmux.js';
import { wrongPasswords } from '../helpers/bad-logins.js';
import { aliceSsh, ALICE_PASSWORD, startWarden, type WardenHandle } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let shared: string;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  warden = await startWarden({ redisUrl: redis.url, sshd });
  shared = makeTempDir('warden-files-');
  chmodSync(shared, 0o777);
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  if (shared) removeTempDir(shared);
});

const asAlice = (login: string, command?: string, extra: Partial<Parameters<typeof runSsh>[0]> = {}) =>
  runSsh({ port: warden.port, login, identity: warden.aliceKey, command, ...extra });

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('exec through Warden', () => {
  it('returns stdout, stderr (kept apart) and the exit status', async () => {
    const res = await asAlice('alice@target@web1', 'echo out; echo err >&2; exit 3');
    expect(res.stdout.toString()).toBe('out\n');
    expect(res.stderr).toContain('err\n');
    expect(res.stderr).not.toContain('out');
    expect(res.code).toBe(3);
  });

  it('logs in with a password too, and the short login form picks the only account', async () => {
    const res = await runSsh({ port: warden.port, login: 'alice@web1', password: ALICE_PASSWORD, command: 'id -un' });
    expect(res.code).toBe(0);
    expect(res.stdout.toString().trim()).toBe(sshd.user);
  });

  it('passes stdin and EOF through (cat ends when the client input ends)', async () => {
    const res = await asAlice('alice@target@web1', 'cat; echo done', { stdin: 'line one\nline two\n' });
    expect(res.stdout.toString()).toBe('line one\nline two\ndone\n');
    expect(res.code).toBe(0);
  });

  it('works with stdin at EOF from the start (ssh host cmd </dev/null)', async () => {
    const res = await asAlice('alice@target@web1', 'echo quick');
    expect(res.stdout.toString()).toBe('quick\n');
  });

  it('passes an exit signal back', async () => {
    const res = await asAlice('alice@target@web1', 'echo signal-check; kill -TERM $$');
    expect(res.code).toBe(255);
    await waitUntil('record finished', async () => (await warden.instance.registry.listRecent(20)).some((r) => r.command?.includes('signal-check')));
    const rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('signal-check'))!;
    expect(rec.exitStatus).toBe('signal SIGTERM');
  });

  it('passes LANG and LC_* to the target, and no other variables', async () => {
    const res = await asAlice('alice@target@web1', 'echo "lang=$LANG lc=$LC_WARDEN other=$WARDEN_OTHER"', {
      extraArgs: ['-o', 'SetEnv=LANG=C.UTF-8 LC_WARDEN=yes WARDEN_OTHER=leak'],
    });
    expect(res.stdout.toString()).toBe('lang=C.UTF-8 lc=yes other=\n');
  });

  it('applies backpressure: a client that stops reading pauses the target, not Warden\'s memory', async () => {
    const total = 96 * 1024 * 1024;
    const child = spawn('ssh', [...BASE_OPTIONS, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-p', String(warden.port), '-l', 'alice@target@web1', '127.0.0.1', `head -c ${total} /dev/zero`]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let received = 0;
    child.stdout.once('data', (d: Buffer) => {
      received += d.length;
      child.stdout.pause();
    });
    await waitUntil('first bytes', async () => received > 0);
    const before = process.memoryUsage();
    await new Promise((r) => setTimeout(r, 3_000));
    const during = process.memoryUsage();
    // With the reader stopped, at most the SSH windows and socket buffers are in flight.
    expect(during.arrayBuffers + during.external - (before.arrayBuffers + before.external)).toBeLessThan(32 * 1024 * 1024);
    child.stdout.on('data', (d: Buffer) => (received += d.length));
    child.stdout.resume();
    expect(await exited).toBe(0);
    expect(received).toBe(total);
  });

  it('records the session in the registry with its outcome', async () => {
    const res = await asAlice('alice@target@web1', 'echo registry-check; exit 7');
    expect(res.code).toBe(7);
    await waitUntil('record finished', async () => (await warden.instance.registry.listRecent(20)).some((r) => r.command?.includes('registry-check')));
    const rec = (await warden.instance.registry.listRecent(20)).find((r) => r.command?.includes('registry-check'))!;
    expect(rec).toMatchObject({ user: 'alice', asset: 'web1', account: 'target', kind: 'exec', state: 'finished', reason: 'client_closed', exitStatus: '7', instance: warden.instance.id, remote: '127.0.0.1' });
    expect(rec.finish).toBeGreaterThanOrEqual(rec.start);
    expect(rec.bytesOut).toBeGreaterThan(0);
  });
});

describe('pty shell', () => {
  it('passes the terminal size and a resize through to the target (stty size)', async () => {
    const term = await startTerminal({
      command: aliceSsh(warden, 'alice@target@web1'),
      cols: 100,
      rows: 30,
    });
    try {
      await term.send("PS1='ready> '");
      await term.sendKey('Enter');
      await term.waitFor(/^ready>\s*$/m);
      await term.send('stty size');
      await term.sendKey('Enter');
      await term.waitFor(/^30 100$/m);
      await term.resize(120, 40);
      await term.send('clear; stty size');
      await term.sendKey('Enter');
      await term.waitFor(/^40 120$/m);
      await term.send('exit 0');
      await term.sendKey('Enter');
      expect(await term.exited()).toBe(0);
    } finally {
      await term.kill();
    }
  });

  it('shows a menu of grants to a login without a target; a number connects', async () => {
    const term = await startTerminal({
      command: aliceSsh(warden, 'alice'),
      cols: 100,
      rows: 30,
    });
    try {
      const menu = await term.waitFor(/q to quit>/);
      expect(menu).toMatch(/1\s+down\s+target/);
      expect(menu).toMatch(/web2\s+other/);
      await term.send('web2');
      await term.sendKey('Enter');
      await term.waitFor(/2 matches/);
      await term.send('1');
      await term.sendKey('Enter');
      await term.waitFor(/Connecting to other@web2|Connecting to target@web2/);
      await term.send('echo menu-$((40+2))');
      await term.sendKey('Enter');
      await term.waitFor(/menu-42/);
      await term.send('exit');
      await term.sendKey('Enter');
      expect(await term.exited()).toBe(0);
    } finally {
      await term.kill();
    }
  });
});

describe('file transfer', () => {
  it('sftp upload and download keep the bytes', async () => {
    const local = path.join(shared, 'up.bin');
    writeFileSync(local, Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7919) % 251)));
    const res = await runSftp({
      port: warden.port,
      login: 'alice@target@web1',
      identity: warden.aliceKey,
      batch: [`put ${local} ${shared}/remote.bin`, `get ${shared}/remote.bin ${shared}/down.bin`],
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(sha(path.join(shared, 'remote.bin'))).toBe(sha(local));
    expect(sha(path.join(shared, 'down.bin'))).toBe(sha(local));
  });

  it('scp works in both protocols', async () => {
    const local = path.join(shared, 'scp.bin');
    writeFileSync(local, Buffer.alloc(300_000, 'w'));
    for (const legacy of [false, true]) {
      const res = await runScp({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, from: local, to: `remote:${shared}/scp-${legacy}.bin`, legacy });
      expect(`${res.code} ${res.stderr}`).toBe("0 ");
      expect(sha(path.join(shared, `scp-${legacy}.bin`))).toBe(sha(local));
    }
  });
});

describe('refusals', () => {
  it('a wrong password and an unknown user look the same', async () => {
    const wrong = await runSsh({ port: warden.port, login: 'alice@web1', password: 'nope', command: 'true' });
    const unknown = await runSsh({ port: warden.port, login: 'mallory@web1', password: 'nope', command: 'true' });
    expect(wrong.code).toBe(255);
    expect(unknown.code).toBe(255);
    expect(wrong.stderr).toMatch(/Permission denied/);
    expect(unknown.stderr.replace(/mallory/g, 'alice')).toBe(wrong.stderr);
  });

  it('an ungranted target is refused with a message and no connection to the target', async () => {
    const before = sshd.connectionCount();
    const res = await asAlice('alice@target@secret', 'true');
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('Access denied: no grant for account "target" on asset "secret"');
    const unknown = await asAlice('alice@target@nosuch', 'true');
    expect(unknown.stderr).toContain('on asset "nosuch"');
    expect(sshd.connectionCount()).toBe(before);
  });

  it('a host-key mismatch is refused before credentials, naming both fingerprints', async () => {
    const logFrom = sshd.log().length;
    const res = await asAlice('alice@target@evil', 'true');
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('host key changed');
    expect(res.stderr).toContain(sshd.hostKeyFingerprint);
    expect(res.stderr).toMatch(/SHA256:\S+ is pinned/);
    expect(res.stderr).toContain('an admin must update');
    const audit = warden.logs().find((l) => l.event === 'hostkey_mismatch');
    expect(audit).toMatchObject({ asset: 'evil', presented: sshd.hostKeyFingerprint });
    // sshd saw Warden's connection end without a single authentication request.
    expect(await authLinesOfNextConnection(sshd, logFrom)).toEqual([]);
  });

  it('trusts a tofu asset on first use and remembers the key', async () => {
    const res = await asAlice('alice@target@tofu1', 'echo tofu-ok');
    expect(res.stdout.toString()).toBe('tofu-ok\n');
    const stored = await warden.instance.redis.hget(warden.instance.keys.hostKeys, 'tofu1');
    expect(stored).toBe(sshd.hostKeyLine);
  });

  it('a target that is down gives a clear error', async () => {
    const res = await asAlice('alice@target@down', 'true');
    expect(res.code).toBe(255);
    // ECONNREFUSED (not a connect timeout) shows the refusal was passed on as it came.
    expect(res.stderr).toMatch(/Cannot reach the target .*ECONNREFUSED/);
  });

  it('refuses remote port forwarding with a clear message', async () => {
    const res = await asAlice('alice@target@web1', 'true', { extraArgs: ['-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:0:127.0.0.1:9'] });
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/remote port forwarding failed/);
  });

  it('records refused sessions with their reason', async () => {
    // Its own refusals, so the test does not depend on the ones above having run first.
    const since = Date.now();
    const tag = `echo reasons-${since}`;
    const [, , , bad] = await Promise.all([
      asAlice('alice@target@secret', tag),
      asAlice('alice@target@evil', tag),
      asAlice('alice@target@down', tag),
      wrongPasswords(warden.port, 'alice@target@web1'),
    ]);
    expect(bad.outcome).not.toBe('ready');
    const want = ['denied', 'hostkey_mismatch', 'target_unreachable', 'auth_failed'];
    let got: string[] = [];
    await waitUntil('refusals recorded', async () => {
      const recent = (await warden.instance.registry.listRecent(200)).filter((r) => r.start >= since - 1_000);
      got = want.filter((w) => recent.some((r) => r.reason === w));
      return got.length === want.length;
    }, { timeoutMs: 20_000, details: () => `recorded: ${got.join(', ')}` });
    expect(got).toEqual(want);
  });
});
