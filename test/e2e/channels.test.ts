/**
 * Every channel of a multiplexed connection is its own audit unit: OpenSSH ControlMaster and
 * paramiko open several channels on one SSH connection, and each shell/exec channel must get
 * its own recording (that verifies) and its own entry in the session record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recorderTestHooks } from '../../src/recording/asciicast-recorder.js';
import type { SessionRecord } from '../../src/session-record.js';
import { makeTempDir, trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runClient } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startWarden, type WardenHandle } from '../helpers/warden.js';
import { runCli } from '../helpers/warden-process.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  warden = await startWarden({ redisUrl: redis.url, sshd });
});

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

/** BASE_OPTIONS turn multiplexing off; ssh keeps the first value of an option, so drop that pair. */
const NO_MUX = new Set(['ControlMaster=no', 'ControlPath=none']);
const base = BASE_OPTIONS.filter((a, i, all) => !NO_MUX.has(a) && !(a === '-o' && NO_MUX.has(all[i + 1] ?? '')));

async function finishedRecord(id: string): Promise<SessionRecord> {
  let rec: SessionRecord | undefined;
  await waitUntil('record final with every recording attached', async () => {
    rec = await warden.instance.registry.get(id);
    const execs = rec?.channels.filter((c) => c.kind !== 'sftp').length ?? 0;
    return rec?.state === 'finished' && Object.keys(rec.recordings ?? {}).length === execs;
  }, { timeoutMs: 20_000 });
  return rec!;
}

function castText(rec: SessionRecord, channel: number): string {
  return gunzipSync(readFileSync(rec.recordings![channel]!.file)).toString('utf8');
}

describe('OpenSSH ControlMaster', () => {
  let master: ChildProcess | undefined;
  afterAll(() => master?.kill('SIGTERM'));

  it('records each exec and shell channel of one master on its own, sftp included in the record', async () => {
    const dir = makeTempDir('mux-');
    chmodSync(dir, 0o777); // the target account may be another user: it writes the upload here
    const sock = path.join(dir, 'ctl');
    const login = 'alice@target@web1';
    const auth = ['-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(warden.port), '-l', login];
    master = spawn('ssh', [...base, ...auth, '-o', 'ControlMaster=yes', '-o', `ControlPath=${sock}`, '-N', '127.0.0.1'], { stdio: 'ignore' });
    trackChild(master);
    await waitUntil('master socket', async () => existsSync(sock));
    const mux = ['-o', 'ControlMaster=no', '-o', `ControlPath=${sock}`];
    const viaMaster = (args: string[], stdin?: string) => runClient('ssh', [...base, ...auth, ...mux, ...args], { port: warden.port, login, stdin }, {});

    const first = await viaMaster(['127.0.0.1', 'echo first-exec-$((40+1)); exit 3']);
    expect(first.stdout.toString()).toBe('first-exec-41\n');
    expect(first.code).toBe(3);
    const second = await viaMaster(['127.0.0.1', 'echo second-exec-$((40+2))']);
    expect(second.stdout.toString()).toBe('second-exec-42\n');

    const upload = path.join(dir, 'up.txt');
    writeFileSync(upload, 'payload over the master\n');
    const batch = path.join(dir, 'batch');
    writeFileSync(batch, `put ${upload} ${dir}/mux-up.txt\n`);
    const sftp = await runClient('sftp', [...base, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', `User=${login}`, '-P', String(warden.port), ...mux, '-b', batch, '127.0.0.1'], { port: warden.port, login }, {});
    expect(sftp.code, sftp.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'mux-up.txt'), 'utf8')).toBe('payload over the master\n');

    const shell = await viaMaster(['-tt', '127.0.0.1'], 'echo shell-marker-$((6*7))\nexit 5\n');
    expect(shell.stdout.toString()).toContain('shell-marker-42');

    // All four channels ran on the master's one connection: one live session record.
    const live = await warden.instance.registry.listLive();
    expect(live).toHaveLength(1);
    const id = live[0]!.id;
    master.kill('SIGTERM');
    const rec = await finishedRecord(id);

    expect(rec.channelCount).toBe(4);
    expect(rec.channels.map((c) => [c.n, c.kind, c.exit])).toEqual([
      [1, 'exec', '3'],
      [2, 'exec', '0'],
      [3, 'sftp', '0'],
      [4, 'shell', '5'],
    ]);
    expect(rec.channels[0]!.command).toBe('echo first-exec-$((40+1)); exit 3');
    expect(rec.channels.every((c) => c.end !== undefined && c.end >= c.start)).toBe(true);
    expect(rec.channels[2]!.bytesIn).toBeGreaterThan('payload over the master\n'.length);

    // Each exec/shell channel has its own recording holding its own output, and nothing else's.
    expect(castText(rec, 1)).toContain('first-exec-41');
    expect(castText(rec, 1)).not.toContain('second-exec');
    expect(castText(rec, 2)).toContain('second-exec-42');
    expect(castText(rec, 4)).toContain('shell-marker-42');
    expect(rec.recordings![3]).toBeUndefined();

    const verify = await runCli(['verify', id, '--config', warden.configFile]);
    expect(verify.stdout.match(/^channel \d+: OK: /gm)).toHaveLength(3);
    expect(verify.code).toBe(0);
    const one = await runCli(['verify', `${id}.4`, '--config', warden.configFile]);
    expect(one.stdout).toMatch(/^channel 4: OK: .*\.4\.cast\.gz: intact/);

    const json = JSON.parse((await runCli(['sessions', '--all', '--json', '--config', warden.configFile])).stdout) as { recent: SessionRecord[] };
    expect(json.recent.find((r) => r.id === id)?.channels).toHaveLength(4);
  });
});

describe('paramiko', () => {
  it('two exec channels on one connection are two recorded channels of one session', async () => {
    const script = `
import sys, paramiko
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('127.0.0.1', port=int(sys.argv[1]), username='alice@target@web1', key_filename=sys.argv[2], allow_agent=False, look_for_keys=False)
t = c.get_transport()
for cmd in ('echo para-one-$((1+1))', 'echo para-two-$((2+1)); exit 4'):
    ch = t.open_session()
    ch.exec_command(cmd)
    out = ch.makefile('rb').read().decode()
    print(out.strip(), ch.recv_exit_status())
c.close()
`;
    const res = await runClient('/usr/bin/python3', ['-c', script, String(warden.port), warden.aliceKey], { port: warden.port, login: 'alice' }, {});
    expect(res.stderr).toBe('');
    expect(res.stdout.toString()).toBe('para-one-2 0\npara-two-3 4\n');
    let id: string | undefined;
    await waitUntil('paramiko session recorded', async () => {
      id = (await warden.instance.registry.listRecent(20)).find((r) => r.channels.some((c) => c.command?.includes('para-one')))?.id;
      return id !== undefined;
    });
    const rec = await finishedRecord(id!);
    expect(rec.channels.map((c) => [c.n, c.kind, c.exit])).toEqual([
      [1, 'exec', '0'],
      [2, 'exec', '4'],
    ]);
    expect(castText(rec, 1)).toContain('para-one-2');
    expect(castText(rec, 2)).toContain('para-two-3');
    expect(castText(rec, 2)).not.toContain('para-one');
  });
});

describe('recording under pressure', () => {
  // Completeness of a fast 10 MiB text stream. (On this machine the recorder keeps up with the
  // relay, so the backpressure path — relay.holdOutput — is not what makes this pass.)
  it('a fast text stream is recorded completely, byte for byte, and verifies', async () => {
    const res = await runClient('ssh', [...base, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-p', String(warden.port), '-l', 'alice@target@web1', '127.0.0.1', 'seq 1 1500000'], { port: warden.port, login: 'alice' }, {});
    const expected = Array.from({ length: 1_500_000 }, (_, i) => `${i + 1}\n`).join('');
    expect(res.stdout.length).toBe(expected.length);
    let id: string | undefined;
    await waitUntil('record', async () => {
      id = (await warden.instance.registry.listRecent(20)).find((r) => r.command === 'seq 1 1500000')?.id;
      return id !== undefined;
    });
    const rec = await finishedRecord(id!);
    const events = castText(rec, 1).split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as [number, string, string]);
    expect(events.filter((e) => e[1] === 'm')).toEqual([]); // no gap marker: nothing was dropped
    expect(events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')).toBe(expected);
    const verify = await runCli(['verify', id!, '--config', warden.configFile]);
    expect(verify.stdout).toMatch(/^channel 1: OK: /);
  }, 60_000);
  // A stalled disk, through a real session: every write of the recorder waits until the test
  // lets it go. The relay must stop reading the target (the client sees at most about the
  // recorder's pause threshold), and once the disk moves again the recording is complete.
  it('a stalled recorder holds the stream back; once it moves, the recording is complete and verifies', async () => {
    const dir = makeTempDir('burst-', 0o755);
    const line = (i: number) => `${i}\t\x1b[32mok\x1b[0m "quoted" back\\slash é→✓ ${'x'.repeat(i % 50)}\n`;
    const parts: string[] = [];
    for (let i = 0, n = 0; n < 24 * 1024 * 1024; i++) n += Buffer.byteLength(parts[parts.push(line(i)) - 1]!);
    const expected = parts.join('');
    const file = path.join(dir, 'burst.txt');
    writeFileSync(file, expected, { mode: 0o644 });
    let release!: () => void;
    const moving = new Promise<void>((resolve) => (release = resolve));
    recorderTestHooks.beforeWrite = () => moving;
    try {
      const ssh = spawn('ssh', [...BASE_OPTIONS, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(warden.port), '-l', 'alice@target@web1', '127.0.0.1', `cat ${file}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      trackChild(ssh);
      const out: Buffer[] = [];
      let received = 0;
      ssh.stdout.on('data', (d: Buffer) => {
        out.push(d);
        received += d.length;
      });
      const exited = new Promise<number | null>((resolve) => ssh.once('close', resolve));
      // Wait for the flow to stop: no growth for 8 polls in a row (or everything arrived).
      let last = -1;
      let still = 0;
      await waitUntil('output stops while the recorder is stalled', async () => {
        still = received > 0 && received === last ? still + 1 : 0;
        last = received;
        return still >= 8 || received === expected.length;
      }, { timeoutMs: 60_000, intervalMs: 250 });
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(4 * 1024 * 1024); // pauseAbove is 1 MiB; the file is 24
      release();
      expect(await exited).toBe(0);
      expect(Buffer.concat(out).toString('utf8') === expected).toBe(true);
      let id: string | undefined;
      await waitUntil('record', async () => {
        id = (await warden.instance.registry.listRecent(20)).find((r) => r.command === `cat ${file}`)?.id;
        return id !== undefined;
      });
      const rec = await finishedRecord(id!);
      const events = castText(rec, 1).split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as [number, string, string]);
      expect(events.filter((e) => e[1] === 'm')).toEqual([]); // no gap marker: nothing was dropped
      expect(events.filter((e) => e[1] === 'o').map((e) => e[2]).join('') === expected).toBe(true);
      const verify = await runCli(['verify', id!, '--config', warden.configFile]);
      expect(verify.stdout).toMatch(/^channel 1: OK: /);
    } finally {
      release();
      delete recorderTestHooks.beforeWrite;
    }
  }, 120_000);
});
