/**
 * Per-connection limits and the requests Warden refuses by policy, with real OpenSSH clients:
 * channels per connection, forwarding of every kind ("administratively prohibited", one audit
 * event each), the env allow-list, and git's protocol v2 through Warden.
 */
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientChannel } from 'ssh2';
import { Client } from '../../src/ssh2.js';
import { isRoot, makeTempDir, removeTempDir, trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runSsh, sshCommand } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { ALICE_PASSWORD, startWarden, type WardenHandle } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let tmp: string;

beforeAll(async () => {
  tmp = makeTempDir('limits-');
  chmodSync(tmp, 0o755);
  [redis, sshd] = await Promise.all([startRedis(), startSshd({ config: { AcceptEnv: 'LANG LC_* GIT_PROTOCOL FOO', MaxSessions: 50 } })]);
  warden = await startWarden({ redisUrl: redis.url, sshd });
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  if (tmp) removeTempDir(tmp);
});

const alice = (extra: { command: string; extraArgs?: string[]; env?: Record<string, string> }) =>
  runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, ...extra });

function connect(): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ host: '127.0.0.1', port: warden.port, username: 'bob@target@web1', password: ALICE_PASSWORD });
  });
}

function exec(c: InstanceType<typeof Client>, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => c.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
}

function output(ch: ClientChannel): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    ch.on('data', (d: Buffer) => (out += d));
    ch.stderr.on('data', () => {});
    ch.on('close', () => resolve(out));
  });
}

function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const auditOf = (event: string) => warden.logs().filter((l) => l.audit === true && l.event === event);

describe('channels per connection (limits.maxChannels, default 10)', () => {
  it('refuses the 11th open channel with the reason, audited; closed channels free their slot', async () => {
    const c = await connect();
    try {
      const open: ClientChannel[] = [];
      for (let i = 0; i < 10; i++) open.push(await exec(c, 'sleep 30'));
      const before = auditOf('limit_exceeded').length;
      await expect(exec(c, 'echo eleven')).rejects.toThrow(/at most 10 channels per connection/);
      expect(auditOf('limit_exceeded').slice(before)).toMatchObject([{ limit: 'channels' }]);
      for (const ch of open) ch.close();
      // Sequential commands on one connection: each finished channel must give its slot back.
      for (let i = 0; i < 15; i++) expect(await output(await exec(c, `echo ${i}`))).toBe(`${i}\n`);
      // ...and its relay must finish too (ssh2 reports a channel's close only once its input
      // was drained; a relay waiting for that forever held its audit state until the end).
      const [id] = await warden.instance.registry.liveIds(warden.instance.id);
      await waitUntil('every closed channel has ended in the record', async () => {
        const rec = await warden.instance.registry.get(id!);
        return (rec?.channels?.length ?? 0) > 0 && rec!.channels!.every((ch) => ch.end !== undefined);
      });
    } finally {
      c.end();
    }
  }, 60_000);
});

describe('forwarding is administratively prohibited, one audit event per refusal', () => {
  it('-W (what -J asks the jump host for)', async () => {
    const before = auditOf('forward_refused').length;
    // The channel-open failure is logged by ssh at INFO (BASE_OPTIONS say ERROR, and ssh keeps
    // the first value of an option).
    const { argv } = sshCommand({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, extraArgs: ['-W', '127.0.0.1:22'] });
    const res = await run(argv.map((a) => (a === 'LogLevel=ERROR' ? 'LogLevel=INFO' : a)));
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/administratively prohibited: port forwarding is administratively prohibited on Warden/);
    expect(auditOf('forward_refused').slice(before)).toMatchObject([{ what: 'port forwarding', dest: '127.0.0.1:22' }]);
  });

  it('-R, X11 and agent forwarding: the same wording on stderr, one event each', async () => {
    const sock = path.join(tmp, 'agent.sock');
    const agent = net.createServer((c) => c.destroy()).listen(sock);
    await new Promise((r) => agent.once('listening', r));
    const before = auditOf('forward_refused').length;
    // ssh forwards an agent only when it has one: IdentityAgent points at a (dummy) socket.
    const { argv } = sshCommand({
      port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo ran',
      extraArgs: ['-R', '0:127.0.0.1:9', '-X', '-A'],
    });
    const res = await run(argv.map((a) => (a === 'IdentityAgent=none' ? `IdentityAgent=${sock}` : a)), { DISPLAY: ':0' });
    agent.close();
    expect(res.stdout).toBe('ran\n');
    for (const what of ['remote port forwarding', 'X11 forwarding', 'agent forwarding']) {
      expect(res.stderr).toContain(`${what} is administratively prohibited on Warden.`);
    }
    const events = auditOf('forward_refused').slice(before).map((e) => e.what).sort();
    expect(events).toEqual(['X11 forwarding', 'agent forwarding', 'remote port forwarding']);
  });
});

describe('env.allow (default LANG, LC_*, GIT_PROTOCOL)', () => {
  it('passes allowed variables, drops the rest and logs the dropped names once per session', async () => {
    const res = await alice({
      command: 'echo "$GIT_PROTOCOL|$LC_TIME|$FOO"',
      extraArgs: ['-o', 'SetEnv=GIT_PROTOCOL=version=2 LC_TIME=C FOO=bar'],
    });
    expect(res.stdout.toString()).toBe('version=2|C|\n');
    const dropped = warden.logs().filter((l) => l.msg === 'environment variables not passed to the target (not in env.allow)');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ level: 20, dropped: ['FOO'] });
  });

  it('git clone through Warden negotiates protocol v2', async () => {
    const repo = path.join(tmp, 'repo.git');
    const work = path.join(tmp, 'work');
    mkdirSync(work);
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    writeFileSync(path.join(work, 'README'), 'hello\n');
    execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'one']);
    execFileSync('git', ['clone', '-q', '--bare', work, repo]);
    execFileSync('chmod', ['-R', 'a+rX', tmp]);
    // git refuses a repository owned by another user ("dubious ownership").
    if (isRoot) execFileSync('chown', ['-R', sshd.user, repo]);
    const clone = path.join(tmp, 'clone');
    const sshCmd = ['ssh', ...BASE_OPTIONS, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-l', 'alice@target@web1'].join(' ');
    const res = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn('git', ['-c', 'protocol.version=2', 'clone', `ssh://127.0.0.1:${warden.port}${repo}`, clone], {
        env: { ...process.env, GIT_SSH_COMMAND: sshCmd, GIT_TRACE_PACKET: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      trackChild(child);
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, err }));
    });
    expect(res.code, res.err.slice(-2000)).toBe(0);
    expect(res.err).toMatch(/packet: +\S+< version 2/);
    await waitUntil('clone checked out', async () => execFileSync('git', ['-C', clone, 'log', '--oneline']).toString().includes('one'));
  }, 60_000);
});
