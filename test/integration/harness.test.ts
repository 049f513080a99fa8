/**
 * Proves the real-process harness itself: Redis from redis.conf, OpenSSH sshd + clients,
 * and tmux terminals. If this file fails, every e2e failure after it is suspect.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { runScp, runSftp, runSsh, sshCommand } from '../helpers/ssh-client.js';
import { startTerminal } from '../helpers/tmux.js';
import { makeTempDir, removeTempDir } from '../helpers/processes.js';
import { establishedTo } from '../helpers/idle-shells.js';

describe('redis helper', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('starts from redis.conf with the settings BullMQ needs', async () => {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
      expect(await client.config('GET', 'hz')).toEqual(['hz', '100']);
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'dir')).toEqual(['dir', redis.dir]);
      expect(await client.config('GET', 'port')).toEqual(['port', String(redis.port)]);
    } finally {
      client.disconnect();
    }
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
  });

  it('gives distinct prefixes without separators or hash-tag braces', () => {
    const a = uniquePrefix();
    const b = uniquePrefix();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9-]+$/);
  });

  it('restart() keeps the port and the AOF data; kill9() then restart() too', async () => {
    const key = `${uniquePrefix()}:k`;
    const client = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    try {
      await client.set(key, 'v1');
      const port = redis.port;
      await redis.restart();
      expect(redis.port).toBe(port);
      expect(await client.get(key)).toBe('v1'); // graceful shutdown fsyncs the AOF

      await client.set(key, 'v2');
      // everysec: wait past one fsync so the write survives the crash.
      await new Promise((r) => setTimeout(r, 1500));
      await redis.kill9();
      await redis.restart();
      expect(await client.get(key)).toBe('v2');
    } finally {
      client.disconnect();
    }
  });
});

describe('sshd helper + OpenSSH clients', () => {
  let sshd: SshdHandle;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('exposes the host key and its fingerprint, plus a different key for mismatch tests', () => {
    expect(sshd.hostKeyLine).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
    expect(sshd.rsaHostKeyLine).toMatch(/^ssh-rsa AAAA[A-Za-z0-9+/=]+$/);
    expect(sshd.otherHostKeyLine).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
    expect(sshd.otherHostKeyLine).not.toBe(sshd.hostKeyLine);
    expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(sshd.connectionCount()).toBe(0); // readiness is read from the log, not probed
  });

  it('accepts the real ssh client with the client key, and counts connections', async () => {
    const before = sshd.connectionCount();
    const ok = await runSsh({ port: sshd.port, login: sshd.user, identity: sshd.clientKeyPath, command: 'true' });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);

    const hi = await runSsh({ port: sshd.port, login: sshd.user, identity: sshd.clientKeyPath, command: 'echo hi' });
    expect(hi.code).toBe(0);
    expect(hi.stdout.toString()).toBe('hi\n');
    expect(sshd.connectionCount()).toBe(before + 2);
  });

  it('the server presents the advertised host key', async () => {
    // ssh -v prints the fingerprint it got; LogLevel=ERROR is overridden by -v.
    const res = await runSsh({
      port: sshd.port,
      login: sshd.user,
      identity: sshd.clientKeyPath,
      command: 'true',
      extraArgs: ['-v', '-o', 'HostKeyAlgorithms=ssh-ed25519'],
    });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(sshd.hostKeyFingerprint);
  });

  it('passes stdin through and reports the remote exit status', async () => {
    const res = await runSsh({
      port: sshd.port,
      login: sshd.user,
      identity: sshd.clientKeyPath,
      command: 'wc -c; exit 3',
      stdin: Buffer.alloc(100_000, 1),
    });
    expect(res.code).toBe(3);
    expect(res.stdout.toString().trim()).toBe('100000');
  });

  it('refuses a key that is not authorized and a password (publickey only)', async () => {
    const other = makeTempDir('otherkey');
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(other, 'k')]);
      const bad = await runSsh({ port: sshd.port, login: sshd.user, identity: path.join(other, 'k'), command: 'true' });
      expect(bad.code).toBe(255);
      expect(bad.stderr).toMatch(/Permission denied/);
      const pw = await runSsh({ port: sshd.port, login: sshd.user, password: 'nope', command: 'true' });
      expect(pw.code).toBe(255);
      expect(pw.stderr).toMatch(/Permission denied/);
    } finally {
      removeTempDir(other);
    }
  });

  it('scp (SFTP and legacy protocols) and sftp batch mode work', async () => {
    const local = makeTempDir('xfer');
    try {
      const src = path.join(local, 'src.bin');
      writeFileSync(src, Buffer.alloc(300_000, 7));
      const remote = `/tmp/warden-harness-${process.pid}-${Date.now()}.bin`;
      const auth = { port: sshd.port, login: sshd.user, identity: sshd.clientKeyPath };

      const up = await runScp({ ...auth, from: src, to: `remote:${remote}` });
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      const back = path.join(local, 'back.bin');
      const down = await runScp({ ...auth, from: `remote:${remote}`, to: back, legacy: true });
      expect(down.code).toBe(0);
      expect(readFileSync(back).equals(readFileSync(src))).toBe(true);

      const sftp = await runSftp({ ...auth, batch: [`ls -l ${remote}`, `rm ${remote}`] });
      expect(sftp.code).toBe(0);
      expect(sftp.stdout.toString()).toContain('300000');
      expect(existsSync(remote)).toBe(false);
    } finally {
      removeTempDir(local);
    }
  });

  it('stop() kills session processes and removes its dir', async () => {
    const own = await startSshd();
    // A session that would outlive its listener if stop() only killed the listener.
    const pending = runSsh({ port: own.port, login: own.user, identity: own.clientKeyPath, command: 'sleep 60', timeoutMs: 20_000 });
    // Wait until the session's own processes exist, so stop() sees the whole tree.
    await own.waitForLog(/Starting session: command/);
    const started = Date.now();
    await own.stop();
    const res = await pending;
    expect(res.timedOut).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(existsSync(own.dir)).toBe(false);
  });
});

describe('ssh-client helper: password auth through SSH_ASKPASS', () => {
  // sshd here is publickey-only (no PAM, no real passwords), so a tiny ssh2 server stands in.
  const seen: Array<{ username: string; method: string; password?: string }> = [];
  let server: ssh2.Server;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    dir = makeTempDir('pwserver');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host')]);
    server = new ssh2.Server({ hostKeys: [readFileSync(path.join(dir, 'host'))] }, (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        seen.push({ username: ctx.username, method: ctx.method, password: ctx.method === 'password' ? ctx.password : undefined });
        if (ctx.method === 'password' && ctx.password === 'correct horse') ctx.accept();
        else ctx.reject(['password']);
      });
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          channel.write(`command=${info.command}\n`);
          channel.exit(0); // exit-status must precede EOF/close, or ssh reports 255
          channel.end();
        });
        session.on('subsystem', (_accept, reject) => reject());
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    if (dir) removeTempDir(dir);
  });

  it('logs in with a password, passing a login that contains @ verbatim', async () => {
    const res = await runSsh({ port, login: 'alice@web-1', password: 'correct horse', command: 'uptime' });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout.toString()).toBe('command=uptime\n');
    expect(seen).toContainEqual({ username: 'alice@web-1', method: 'password', password: 'correct horse' });
    // Only password was offered: no key from the machine's ~/.ssh leaked in.
    expect(seen.some((a) => a.method === 'publickey')).toBe(false);
  });

  it('a wrong password fails after one prompt', async () => {
    const before = seen.filter((a) => a.method === 'password').length;
    const res = await runSsh({ port, login: 'alice', password: 'wrong', command: 'true' });
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/Permission denied/);
    expect(seen.filter((a) => a.method === 'password').length - before).toBe(1);
  });

  it('sftp -b still uses the password (its implied BatchMode=yes is overridden)', async () => {
    const res = await runSftp({ port, login: 'bob', password: 'correct horse', batch: ['pwd'] });
    // The stand-in server refuses the sftp subsystem; what matters is that auth got through.
    expect(seen).toContainEqual({ username: 'bob', method: 'password', password: 'correct horse' });
    expect(res.stderr).not.toMatch(/Permission denied/);
  });
});

describe('tmux terminal helper', () => {
  it('runs a program in a real pty, resizes it (SIGWINCH) and reads the screen', async () => {
    const term = await startTerminal({
      command: ['bash', '--norc', '--noprofile'],
      cols: 80,
      rows: 24,
      env: { PS1: 'harness$ ' },
    });
    try {
      await term.waitFor('harness$');
      await term.send('stty size');
      await term.sendKey('Enter');
      await term.waitFor(/^24 80$/m);

      await term.resize(100, 30);
      await term.send('clear; stty size; echo "cols=$COLUMNS"');
      await term.sendKey('Enter');
      // bash updates $COLUMNS on SIGWINCH (checkwinsize), so this proves the signal arrived.
      const screen = await term.waitFor(/cols=100/);
      expect(screen).toMatch(/^30 100$/m);

      // A trailing ';' would end the tmux command if not escaped by the helper.
      await term.send('echo semi;');
      await term.sendKey('Enter');
      await term.waitFor(/^semi$/m);

      await term.send('exit 7');
      await term.sendKey('Enter');
      expect(await term.exited()).toBe(7);
      // remain-on-exit: the final screen is still readable.
      expect(await term.screen()).toContain('exit 7');
    } finally {
      await term.kill();
    }
  });

  it('drives the real ssh client interactively against sshd', async () => {
    const sshd = await startSshd({ config: { SetEnv: 'WARDEN_HARNESS=from-sshd' } });
    const ssh = sshCommand({
      port: sshd.port,
      login: sshd.user,
      identity: sshd.clientKeyPath,
      tty: true,
      command: 'bash --norc --noprofile -i',
    });
    const term = await startTerminal({ command: ssh.argv, env: ssh.env, cols: 90, rows: 20 });
    try {
      await term.send('stty size; echo env=$WARDEN_HARNESS');
      await term.sendKey('Enter');
      await term.waitFor(/^20 90$/m);
      await term.waitFor('env=from-sshd');
      await term.resize(120, 40);
      await term.send('stty size');
      await term.sendKey('Enter');
      await term.waitFor(/^40 120$/m);
      await term.send('exit 5');
      await term.sendKey('Enter');
      expect(await term.exited()).toBe(5);
    } finally {
      await term.kill();
      await sshd.stop();
    }
  });
});

describe('establishedTo (the TCP side of "registry equals reality")', () => {
  it('counts a connection once, even when its client was given the listener\'s port number on another loopback address', async () => {
    const accepted: Socket[] = [];
    const server = createServer((s) => accepted.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    // The bench's clients bind 127.0.0.2; the kernel may give them this very port number.
    const client = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2', localPort: port });
    try {
      await once(client, 'connect');
      expect(client.localPort).toBe(port);
      expect(establishedTo(port)).toBe(1);
    } finally {
      client.destroy();
      for (const s of accepted) s.destroy();
      server.close();
    }
  });
});
