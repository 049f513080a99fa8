/**
 * File-transfer audit and policy end to end: real sftp, scp (both protocols), rsync and
 * paramiko through Warden to a real sshd; what `warden transfers` shows, what policy refuses
 * (and that the target never sees it), kept copies, and 1000 files with nothing lost.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryTransfers } from '../../src/transfers/transfer-log.js';
import type { TransferEvent } from '../../src/transfers/transfer-event.js';
import { isRoot, makeTempDir, removeTempDir, trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS, runScp, runSftp } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startWarden, type WardenHandle } from '../helpers/warden.js';
import { runCli } from '../helpers/warden-process.js';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let shared: string;
let local: string;

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const login = (asset: string) => ({ port: warden.port, login: `alice@target@${asset}`, identity: warden.aliceKey });
/** rsync's `-e`: ssh to Warden as alice for `asset`. */
const rsyncSsh = (asset: string) => ['ssh', ...BASE_OPTIONS, '-i', warden.aliceKey, '-o', 'IdentitiesOnly=yes', '-p', String(warden.port), '-l', `alice@target@${asset}`].join(' ');

/** A client program, run asynchronously: Warden runs in this process and must keep serving. */
function runProgram(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    trackChild(child);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  shared = makeTempDir('warden-transfers-', 0o777);
  chmodSync(shared, 0o777);
  local = makeTempDir('warden-local-');
  warden = await startWarden({
    redisUrl: redis.url,
    sshd,
    extraYaml: 'transfer: { keep: { enabled: true, maxFileSize: 1MiB } }',
    extraGrants: [
      '  - { users: [alice], assets: [secret], accounts: [target], transfer: { upload: false } }',
      "  - { users: [alice], assets: [audit1], accounts: [target], transfer: { deny: ['*.key', '/etc/**'], maxFileSize: 100KiB } }",
    ].join('\n'),
  });
}, 60_000);

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  if (shared) removeTempDir(shared);
  if (local) removeTempDir(local);
});

/** A dir under the shared temp dir that the target account may write to. */
function targetDir(name: string): string {
  const dir = path.join(shared, name);
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  return dir;
}

/** Transfer events whose path is under `dir`, oldest first, once `count` have arrived. */
async function eventsUnder(dir: string, count: number, timeoutMs = 15_000): Promise<TransferEvent[]> {
  let got: TransferEvent[] = [];
  await waitUntil(`${count} transfer events under ${dir}`, async () => {
    got = (await queryTransfers(warden.instance.redis, warden.instance.keys, { path: `${dir}/**`, limit: 5000 })).reverse();
    return got.length >= count;
  }, { timeoutMs, details: () => JSON.stringify(got.map((e) => [e.operation, e.path, e.result])) });
  return got;
}

describe('sftp', () => {
  it('put, get, rename, mkdir, rmdir, rm and failed gets each appear once in warden transfers --json', async () => {
    const dir = targetDir('ops');
    const file = path.join(local, 'payroll_2026.csv');
    writeFileSync(file, 'name,salary\n'.repeat(5000));
    const res = await runSftp({
      ...login('web1'),
      batch: [
        `put ${file} ${dir}/payroll_2026.csv`,
        `get ${dir}/payroll_2026.csv ${local}/back.csv`,
        `rename ${dir}/payroll_2026.csv ${dir}/renamed.csv`,
        `mkdir ${dir}/sub`,
        `rmdir ${dir}/sub`,
        `rm ${dir}/renamed.csv`,
        `-get ${dir}/missing.csv ${local}/missing.csv`,
      ],
    });
    expect(res.code).toBe(0);
    expect(sha(`${local}/back.csv`)).toBe(sha(file));
    const events = await eventsUnder(dir, 7);
    const session = events[0]!.session;
    const cli = await runCli(['transfers', '--session', session, '--json', '--config', warden.configFile]);
    expect(cli.code).toBe(0);
    const logged = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as TransferEvent).reverse();
    const ops = logged.filter((e) => e.operation !== 'stat' || e.path.endsWith('missing.csv')).map((e) => [e.operation, e.path, e.path2, e.bytes, e.result]);
    const size = statSync(file).size;
    // Once each; in any order (a transfer's event waits for its kept copy, so it may land
    // after the operation that followed it).
    const byText = (a: unknown[], b: unknown[]) => JSON.stringify(a).localeCompare(JSON.stringify(b));
    expect(ops.sort(byText)).toEqual([
      ['upload', `${dir}/payroll_2026.csv`, undefined, size, 'ok'],
      ['download', `${dir}/payroll_2026.csv`, undefined, size, 'ok'],
      ['rename', `${dir}/payroll_2026.csv`, `${dir}/renamed.csv`, 0, 'ok'],
      ['mkdir', `${dir}/sub`, undefined, 0, 'ok'],
      ['rmdir', `${dir}/sub`, undefined, 0, 'ok'],
      ['delete', `${dir}/renamed.csv`, undefined, 0, 'ok'],
      ['stat', `${dir}/missing.csv`, undefined, 0, 'no_such_file'],
    ].sort(byText));
    expect(logged.every((e) => e.user === 'alice' && e.asset === 'web1' && e.account === 'target' && e.protocol === 'sftp' && e.channel === 1)).toBe(true);
    // keep: the copies are the files' bytes, private, and named by session and sha256.
    const up = logged.find((e) => e.operation === 'upload')!;
    expect(up.sha256).toBe(sha(file));
    expect(up.kept).toContain(`${session}-${up.sha256}`);
    expect(sha(up.kept!)).toBe(sha(file));
    expect(statSync(up.kept!).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(up.kept!)).mode & 0o777).toBe(0o700);
    // The session record counts them.
    await waitUntil('counts in the record', async () => (await warden.instance.registry.get(session))?.deletions === 2);
    expect(await warden.instance.registry.get(session)).toMatchObject({ uploads: 1, downloads: 1, deletions: 2 });
    // The table names the file too.
    const table = await runCli(['transfers', '--path', '*.csv', '--config', warden.configFile]);
    expect(table.stdout).toMatch(/upload\s+\S+payroll_2026\.csv\s+60000\s+ok/);
  }, 60_000);

  it('a get the target refuses shows its error', async () => {
    const res = await runSftp({ ...login('web1'), batch: ['-get /etc/shadow /dev/null'] });
    expect(res.code).toBe(0);
    let got: TransferEvent[] = [];
    await waitUntil('shadow logged', async () => (got = await queryTransfers(warden.instance.redis, warden.instance.keys, { path: '/etc/shadow', limit: 5 })).length > 0);
    expect(got[0]).toMatchObject({ operation: 'download', path: '/etc/shadow', result: 'permission_denied' });
  });

  it('an upload refused by policy: permission denied, nothing on the target, an audit event', async () => {
    const file = path.join(local, 'refused.txt');
    writeFileSync(file, 'never arrives');
    const res = await runSftp({ ...login('secret'), batch: [`put ${file} ${shared}/refused.txt`] });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Permission denied/);
    expect(existsSync(`${shared}/refused.txt`)).toBe(false);
    await waitUntil('audit event', async () => warden.logs().some((l) => l.event === 'transfer_denied' && l.path === `${shared}/refused.txt`));
    let logged: TransferEvent[] = [];
    await waitUntil('denial logged', async () => (logged = await queryTransfers(warden.instance.redis, warden.instance.keys, { path: `${shared}/refused.txt`, limit: 5 })).some((e) => e.operation === 'upload'));
    expect(logged.find((e) => e.operation === 'upload')).toMatchObject({ operation: 'upload', result: 'denied', asset: 'secret' });
  });

  it('deny patterns and maxFileSize refuse uploads and downloads, and leave nothing behind', async () => {
    const dir = targetDir('limits');
    writeFileSync(path.join(local, 'id.key'), 'secret key');
    writeFileSync(path.join(local, 'big.bin'), Buffer.alloc(300 * 1024, 1));
    writeFileSync(path.join(local, 'small.bin'), Buffer.alloc(1024, 2));
    writeFileSync(path.join(dir, 'target-big.bin'), Buffer.alloc(300 * 1024, 3));
    const res = await runSftp({
      ...login('audit1'),
      batch: [`-put ${local}/id.key ${dir}/id.key`, `-put ${local}/big.bin ${dir}/big.bin`, `put ${local}/small.bin ${dir}/small.bin`, `-get ${dir}/target-big.bin ${local}/target-big.bin`, '-get /etc/hostname /dev/null'],
    });
    expect(res.stderr).toMatch(/Permission denied/);
    expect(existsSync(`${dir}/id.key`)).toBe(false);
    expect(existsSync(`${dir}/big.bin`)).toBe(false);
    expect(readFileSync(`${dir}/small.bin`).length).toBe(1024);
    let events: TransferEvent[] = [];
    const byPath = (p: string) => events.find((e) => e.path === p && e.operation !== 'stat');
    await waitUntil('four file events', async () => {
      events = await eventsUnder(dir, 1);
      return ['id.key', 'big.bin', 'small.bin', 'target-big.bin'].every((f) => byPath(`${dir}/${f}`));
    }, { details: () => JSON.stringify(events) });
    expect(byPath(`${dir}/id.key`)).toMatchObject({ operation: 'upload', result: 'denied', message: expect.stringContaining('*.key') });
    expect(byPath(`${dir}/big.bin`)).toMatchObject({ operation: 'upload', result: 'denied', message: expect.stringContaining('maxFileSize') });
    expect(byPath(`${dir}/small.bin`)).toMatchObject({ operation: 'upload', result: 'ok', bytes: 1024 });
    expect(byPath(`${dir}/target-big.bin`)).toMatchObject({ operation: 'download', result: 'denied' });
    await waitUntil('etc denied', async () => (await queryTransfers(warden.instance.redis, warden.instance.keys, { path: '/etc/hostname', limit: 5 })).some((e) => e.result === 'denied'));
  }, 40_000);

  it('1000 small files with sftp -b: every one logged, none lost, bytes intact', async () => {
    const src = path.join(local, 'many');
    mkdirSync(src);
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(src, `f${String(i).padStart(4, '0')}`), `file ${i} `.repeat(1 + (i % 50)));
    const dst = targetDir('many');
    const res = await runSftp({ ...login('web1'), batch: [`put ${src}/* ${dst}/`], timeoutMs: 120_000 });
    expect(res.code).toBe(0);
    const uploads = (await eventsUnder(dst, 1000, 60_000)).filter((e) => e.operation === 'upload');
    expect(uploads.length).toBe(1000);
    expect(new Set(uploads.map((e) => e.path)).size).toBe(1000);
    for (const e of uploads) {
      const name = path.basename(e.path);
      expect(e.result).toBe('ok');
      expect(e.bytes).toBe(statSync(path.join(src, name)).size);
      expect(sha(path.join(dst, name))).toBe(sha(path.join(src, name)));
      expect(e.sha256).toBe(sha(path.join(src, name)));
    }
  }, 180_000);
});

describe('scp, rsync, paramiko', () => {
  it('legacy scp (-O) uploads and downloads are logged from the protocol; policy applies', async () => {
    const dir = targetDir('scp');
    const file = path.join(local, 'scp.dat');
    writeFileSync(file, Buffer.alloc(50_000, 'q'));
    expect((await runScp({ ...login('web1'), from: file, to: `remote:${dir}/scp.dat`, legacy: true })).code).toBe(0);
    expect((await runScp({ ...login('web1'), from: `remote:${dir}/scp.dat`, to: `${local}/scp-back.dat`, legacy: true })).code).toBe(0);
    expect(sha(`${local}/scp-back.dat`)).toBe(sha(file));
    const missing = await runScp({ ...login('web1'), from: `remote:${dir}/nope.dat`, to: `${local}/nope.dat`, legacy: true });
    expect(missing.code).not.toBe(0);
    // audit1 refuses *.key and files over 100 KiB; secret refuses uploads outright.
    writeFileSync(path.join(local, 'x.key'), 'k');
    writeFileSync(path.join(local, 'huge.dat'), Buffer.alloc(200 * 1024));
    const denied = await runScp({ ...login('audit1'), from: [path.join(local, 'x.key'), path.join(local, 'huge.dat'), file], to: `remote:${dir}/`, legacy: true });
    expect(denied.stderr).toMatch(/Warden: .*x\.key matches a denied pattern/);
    expect(denied.stderr).toMatch(/maxFileSize/);
    expect(existsSync(`${dir}/x.key`)).toBe(false);
    expect(existsSync(`${dir}/huge.dat`)).toBe(false);
    const refused = await runScp({ ...login('secret'), from: file, to: `remote:${dir}/secret.dat`, legacy: true });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/uploading files is not allowed/);
    expect(existsSync(`${dir}/secret.dat`)).toBe(false);
    const events = (await eventsUnder(dir, 7)).filter((e) => e.protocol === 'scp').map((e) => [e.asset, e.operation, path.basename(e.path), e.bytes, e.result]);
    expect(events).toEqual([
      ['web1', 'upload', 'scp.dat', 50_000, 'ok'],
      ['web1', 'download', 'scp.dat', 50_000, 'ok'],
      ['web1', 'download', 'nope.dat', 0, 'error'],
      ['audit1', 'upload', 'x.key', 0, 'denied'],
      ['audit1', 'upload', 'huge.dat', 0, 'denied'],
      ['audit1', 'upload', 'scp.dat', 50_000, 'ok'],
      ['secret', 'upload', 'secret.dat', 0, 'denied'],
    ]);
  }, 60_000);

  it('rsync up and down, 1000 files: one event per file each way, bytes and exit status unchanged', async () => {
    const src = path.join(local, 'rsync-src');
    mkdirSync(src);
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(src, `r${i}`), `rsync ${i} `.repeat(1 + (i % 30)));
    const dst = path.join(shared, 'rsync');
    const up = await runProgram('rsync', ['-a', '-e', rsyncSsh('web1'), `${src}/`, `127.0.0.1:${dst}/`], 120_000);
    expect(`${up.status} ${up.stderr}`).toBe('0 ');
    const back = path.join(local, 'rsync-back');
    const down = await runProgram('rsync', ['-a', '-e', rsyncSsh('web1'), `127.0.0.1:${dst}/`, `${back}/`], 120_000);
    expect(`${down.status} ${down.stderr}`).toBe('0 ');
    expect(readdirSync(dst).length).toBe(1000);
    expect(readdirSync(back).length).toBe(1000);
    for (let i = 0; i < 1000; i++) {
      expect(sha(path.join(dst, `r${i}`))).toBe(sha(path.join(src, `r${i}`)));
      expect(sha(path.join(back, `r${i}`))).toBe(sha(path.join(src, `r${i}`)));
    }
    const events = await eventsUnder(dst, 2000, 60_000);
    for (const operation of ['upload', 'download']) {
      const these = events.filter((e) => e.operation === operation);
      expect(these.length).toBe(1000);
      expect(new Set(these.map((e) => e.path)).size).toBe(1000);
      for (const e of these) {
        expect(e).toMatchObject({ protocol: 'rsync', result: 'ok', user: 'alice', asset: 'web1' });
        expect(e.path.startsWith(`${dst}/r`)).toBe(true);
        expect(e.bytes).toBe(statSync(path.join(src, path.basename(e.path))).size);
      }
      const session = these[0]!.session;
      const key = operation === 'upload' ? 'uploads' : 'downloads';
      await waitUntil(`${key} counted`, async () => (await warden.instance.registry.get(session))?.[key] === 1000);
    }
  }, 300_000);

  it('rsync: names cannot forge entries, --delete logs deletions, the target\'s own stderr and exit status reach the client', async () => {
    const dst = path.join(shared, 'rsync-odd');
    const src = path.join(local, 'rsync-odd');
    mkdirSync(path.join(src, 'sub'), { recursive: true });
    // A name cannot hold '/' (so no log-line prefix), but it can hold a newline and a marker.
    const forged = 'a\nwarden-0000:recv:99:forged \\#012';
    writeFileSync(path.join(src, forged), 'x');
    writeFileSync(path.join(src, 'sub', 'gone'), 'yy');
    writeFileSync(path.join(src, 'kept'), 'zzz');
    // A wrapper rsync on the target that talks on stderr before and after the real one.
    const wrapper = path.join(shared, 'bin', 'rsync');
    mkdirSync(path.dirname(wrapper), { mode: 0o755 });
    writeFileSync(wrapper, '#!/bin/sh\necho "target says hello" >&2\n/usr/bin/rsync "$@"\ns=$?\necho "target says bye" >&2\nexit $s\n', { mode: 0o755 });
    const rsync = (...args: string[]) => runProgram('rsync', ['-a', '-e', rsyncSsh('web1'), `--rsync-path=${wrapper}`, ...args], 60_000);
    const up = await rsync(`${src}/`, `127.0.0.1:${dst}/`);
    expect(`${up.status} ${up.stderr}`).toBe('0 target says hello\ntarget says bye\n');
    expect(readFileSync(path.join(dst, forged), 'utf8')).toBe('x');
    rmSync(path.join(src, 'sub'), { recursive: true });
    const del = await rsync('--delete', `${src}/`, `127.0.0.1:${dst}/`);
    expect(del.status).toBe(0);
    expect(existsSync(path.join(dst, 'sub'))).toBe(false);
    // A file the target account cannot read: rsync's exit status 23 and its one error line
    // reach the client unchanged (the target's log copy of the error does not).
    writeFileSync(path.join(dst, 'unreadable'), 'secret');
    chmodSync(path.join(dst, 'unreadable'), 0o600);
    const down = await rsync(`127.0.0.1:${dst}/unreadable`, `127.0.0.1:${dst}/kept`, `${local}/odd-back/`);
    expect(down.status).toBe(isRoot ? 23 : 0);
    if (isRoot) expect(down.stderr.match(/Permission denied/g)).toHaveLength(1);
    const events = await eventsUnder(dst, 6, 30_000);
    const summary = events.map((e) => [e.operation, e.path, e.bytes, e.result]).sort((a, b) => String(a).localeCompare(String(b)));
    expect(summary).toEqual([
      ['delete', `${dst}/sub/gone`, 0, 'ok'],
      ['download', `${dst}/kept`, 3, 'ok'],
      ['rmdir', `${dst}/sub`, 0, 'ok'],
      ['upload', `${dst}/a\\x0awarden-0000:recv:99:forged \\#012`, 1, 'ok'],
      ['upload', `${dst}/kept`, 3, 'ok'],
      ['upload', `${dst}/sub/gone`, 2, 'ok'],
    ].sort((a, b) => String(a).localeCompare(String(b))));
  }, 120_000);

  it('rsync whose files cannot be listed is still one record saying why', async () => {
    const dst = targetDir('rsync-run');
    const file = path.join(local, 'run.txt');
    writeFileSync(file, 'one');
    // A target rsync that drops Warden's --log-file (a wrapper, an rrsync-like filter).
    const wrapper = path.join(shared, 'bin-nolog', 'rsync');
    mkdirSync(path.dirname(wrapper), { mode: 0o755 });
    writeFileSync(wrapper, '#!/bin/sh\nfor a; do shift; case "$a" in --log-file*) ;; *) set -- "$@" "$a";; esac; done\nexec /usr/bin/rsync "$@"\n', { mode: 0o755 });
    const nolog = await runProgram('rsync', ['-e', rsyncSsh('web1'), `--rsync-path=${wrapper}`, file, `127.0.0.1:${dst}/a.txt`], 60_000);
    expect(`${nolog.status} ${nolog.stderr}`).toBe('0 ');
    // Shell quoting in the command line (--old-args sends the path as typed): not rewritten.
    const quoted = await runProgram('rsync', ['--old-args', '-e', rsyncSsh('web1'), file, `127.0.0.1:'${dst}/b.txt'`], 60_000);
    expect(`${quoted.status} ${quoted.stderr}`).toBe('0 ');
    expect(readFileSync(path.join(dst, 'b.txt'), 'utf8')).toBe('one');
    let got: TransferEvent[] = [];
    await waitUntil('two run records', async () => (got = (await queryTransfers(warden.instance.redis, warden.instance.keys, { limit: 50 })).filter((e) => e.path.includes(dst))).length >= 2);
    expect(got.map((e) => [e.operation, e.path, e.result, e.message]).sort()).toEqual([
      ['upload', `'${dst}/b.txt'`, 'started', 'files not listed: the command line uses shell syntax'],
      ['upload', `${dst}/a.txt`, 'unlogged', "files not listed: the target's rsync wrote no per-file log"],
    ]);
  }, 120_000);

  it('paramiko put, get and remove are logged', async () => {
    const dir = targetDir('paramiko');
    writeFileSync(path.join(local, 'pm.bin'), Buffer.alloc(70_000, 5));
    const script = `
import paramiko, sys
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('127.0.0.1', port=${warden.port}, username='alice@target@web1', key_filename='${warden.aliceKey}', look_for_keys=False, allow_agent=False)
s = c.open_sftp()
s.put('${local}/pm.bin', '${dir}/pm.bin')
s.get('${dir}/pm.bin', '${local}/pm-back.bin')
s.remove('${dir}/pm.bin')
c.close()
`;
    const res = await runProgram('/usr/bin/python3', ['-c', script], 60_000);
    expect(`${res.status} ${res.stderr}`).toBe('0 ');
    expect(sha(`${local}/pm-back.bin`)).toBe(sha(`${local}/pm.bin`));
    // In the order they started (an event is written when its operation completes).
    const events = (await eventsUnder(dir, 3)).filter((e) => e.operation !== 'stat').sort((a, b) => a.at - b.at).map((e) => [e.operation, e.path, e.bytes, e.result]);
    expect(events).toEqual([
      ['upload', `${dir}/pm.bin`, 70_000, 'ok'],
      ['download', `${dir}/pm.bin`, 70_000, 'ok'],
      ['delete', `${dir}/pm.bin`, 0, 'ok'],
    ]);
  }, 60_000);
});
