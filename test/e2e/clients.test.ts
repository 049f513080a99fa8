/**
 * Stock clients other than OpenSSH, through Warden as they work direct, and recorded: PuTTY's
 * plink (exec, and a shell typed in tmux), pscp (SFTP and SCP) and psftp; Python's asyncssh
 * (exec, SFTP, a pty shell); ansible (ping, copy and command over its default multiplexed
 * OpenSSH connection, modules sent by SFTP). ssh-audit finds nothing weaker in Warden's
 * front door than in a stock OpenSSH sshd. (OpenSSH's own clients, ControlMaster, paramiko,
 * dropbear, git and rsync are in their own files.)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryCommands } from '../../src/audit/audit-queues.js';
import type { SessionRecord } from '../../src/session-record.js';
import { queryTransfers } from '../../src/transfers/transfer-log.js';
import { makeTempDir, removeTempDir, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { runClient, runSsh, type ClientResult } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startTerminal } from '../helpers/tmux.js';
import { startWarden, type WardenHandle } from '../helpers/warden.js';

const LOGIN = 'alice@target@web1';
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-asyncssh is installed

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let tmp: string;
/** Where the target account may write (it may be another user than the test's). */
let shared: string;
/** PuTTY's form of alice's key (for Warden) and of the sshd's client key (direct). */
let alicePpk: string;
let directPpk: string;
let wardenFingerprint: string;

beforeAll(async () => {
  tmp = makeTempDir('clients-');
  shared = makeTempDir('clients-shared-', 0o777);
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  warden = await startWarden({ redisUrl: redis.url, sshd });
  alicePpk = path.join(tmp, 'alice.ppk');
  directPpk = path.join(tmp, 'direct.ppk');
  execFileSync('puttygen', [warden.aliceKey, '-O', 'private', '-o', alicePpk]);
  execFileSync('puttygen', [sshd.clientKeyPath, '-O', 'private', '-o', directPpk]);
  wardenFingerprint = execFileSync('ssh-keygen', ['-lf', path.join(warden.dir, 'host_ed25519')], { encoding: 'utf8' }).split(' ')[1]!;
}, 60_000);

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  for (const dir of [tmp, shared]) if (dir) removeTempDir(dir);
});

interface Hop {
  port: number;
  login: string;
  ppk: string;
  fingerprint: string;
}
const viaWarden = (): Hop => ({ port: warden.port, login: LOGIN, ppk: alicePpk, fingerprint: wardenFingerprint });
const direct = (): Hop => ({ port: sshd.port, login: sshd.user, ppk: directPpk, fingerprint: sshd.hostKeyFingerprint });

/** PuTTY's common options: no prompts, no saved sessions, the host key pinned by fingerprint. */
const putty = (hop: Hop) => ['-batch', '-P', String(hop.port), '-i', hop.ppk, '-hostkey', hop.fingerprint];

const run = (program: string, args: string[], env: Record<string, string> = {}, stdin?: string): Promise<ClientResult> =>
  runClient(program, args, { port: 0, login: '', stdin, timeoutMs: 60_000 }, env);

/** The finished session matching `pred` once every recording of it is attached. */
async function waitForRecord(what: string, pred: (r: SessionRecord) => boolean): Promise<SessionRecord> {
  let rec: SessionRecord | undefined;
  await waitUntil(what, async () => {
    rec = (await warden.instance.registry.listRecent(50)).find((r) => r.state === 'finished' && pred(r));
    return rec !== undefined && Object.keys(rec.recordings ?? {}).length === rec.channels.filter((c) => c.kind !== 'sftp').length;
  }, { timeoutMs: 20_000 });
  return rec!;
}

/** A session of this test, found by a marker in its command or in one of its channels. */
const recordWith = (marker: string) =>
  waitForRecord(`a finished record with ${marker}`, (r) => [r.command, ...r.channels.map((c) => c.command)].some((c) => c?.includes(marker)));

const castText = (rec: SessionRecord, channel: number) => gunzipSync(readFileSync(rec.recordings![channel]!.file)).toString('utf8');

/** The finished shell session whose recording shows `text`. */
const shellShowing = (text: string) =>
  waitForRecord(`a recorded shell showing ${text}`, (r) => r.channels[0]?.kind === 'shell' && r.recordings?.[1] !== undefined && castText(r, 1).includes(text));

async function commandsOf(session: string): Promise<string[]> {
  return (await queryCommands(warden.instance.redis, warden.instance.keys, { session, limit: 100 })).map((e) => e.command);
}

/** The transfers logged for paths under `dir`, in the fields the tests compare. */
async function transfersUnder(dir: string) {
  const got = await queryTransfers(warden.instance.redis, warden.instance.keys, { path: `${dir}/**`, limit: 100 });
  return got.map((t) => ({ protocol: t.protocol, op: t.operation, path: t.path, bytes: t.bytes, result: t.result }));
}

describe('PuTTY', () => {
  it('plink runs a command through Warden as it does direct; the command is recorded', async () => {
    const cmd = 'echo via-plink-$((6*7)); exit 3';
    const [d, w] = await Promise.all([direct(), viaWarden()].map((hop) => run('plink', ['-ssh', ...putty(hop), `${hop.login}@127.0.0.1`, cmd])));
    expect({ code: d!.code, out: d!.stdout.toString() }).toEqual({ code: 3, out: 'via-plink-42\n' });
    expect({ code: w!.code, out: w!.stdout.toString() }, w!.stderr).toEqual({ code: 3, out: 'via-plink-42\n' });
    const rec = await recordWith('via-plink');
    expect(rec.channels.map((c) => [c.kind, c.command, c.exit])).toEqual([['exec', cmd, '3']]);
    expect(castText(rec, 1)).toContain('via-plink-42');
  });

  it('a shell typed in plink (tmux) is recorded and its command logged', async () => {
    const hop = viaWarden();
    const term = await startTerminal({ command: ['plink', '-ssh', '-t', ...putty(hop), `${hop.login}@127.0.0.1`], cols: 100, rows: 30 });
    try {
      await term.waitFor(/\$ *$/m, 20_000);
      await term.send('echo putty-typed-$((6*7))');
      await term.sendKey('Enter');
      await term.waitFor('putty-typed-42');
      await term.send('exit');
      await term.sendKey('Enter');
      expect(await term.exited(20_000)).toBe(0);
    } finally {
      await term.kill();
    }
    const rec = await shellShowing('putty-typed-42');
    await waitUntil('the typed line logged', async () => (await commandsOf(rec.id)).includes('echo putty-typed-$((6*7))'));
  });

  it('pscp (SFTP and SCP) and psftp move files through Warden as direct, every transfer logged', async () => {
    const payload = path.join(tmp, 'putty-payload.txt');
    writeFileSync(payload, 'putty payload\n'.repeat(1000));
    const size = 14 * 1000;
    for (const [hop, tag] of [[direct(), 'direct'], [viaWarden(), 'warden']] as const) {
      const dest = `${hop.login}@127.0.0.1`;
      const up = await run('pscp', ['-sftp', ...putty(hop), payload, `${dest}:${shared}/pscp-${tag}.txt`]);
      expect(up.code, up.stderr).toBe(0);
      const scp = await run('pscp', ['-scp', ...putty(hop), payload, `${dest}:${shared}/pscp-scp-${tag}.txt`]);
      expect(scp.code, scp.stderr).toBe(0);
      const batch = path.join(tmp, `psftp-${tag}.txt`);
      writeFileSync(batch, `put ${payload} ${shared}/psftp-${tag}.txt\nget ${shared}/psftp-${tag}.txt ${tmp}/back-${tag}.txt\n`);
      const ps = await run('psftp', [...putty(hop), '-b', batch, dest]);
      expect(ps.code, ps.stderr).toBe(0);
      for (const f of [`pscp-${tag}.txt`, `pscp-scp-${tag}.txt`, `psftp-${tag}.txt`]) expect(readFileSync(path.join(shared, f)).length).toBe(size);
      expect(readFileSync(path.join(tmp, `back-${tag}.txt`)).length).toBe(size);
    }
    const expected = [
      { protocol: 'sftp', op: 'upload', path: `${shared}/pscp-warden.txt`, bytes: size, result: 'ok' },
      { protocol: 'scp', op: 'upload', path: `${shared}/pscp-scp-warden.txt`, bytes: size, result: 'ok' },
      { protocol: 'sftp', op: 'upload', path: `${shared}/psftp-warden.txt`, bytes: size, result: 'ok' },
      { protocol: 'sftp', op: 'download', path: `${shared}/psftp-warden.txt`, bytes: size, result: 'ok' },
    ];
    let logged: unknown[] = [];
    await waitUntil('every transfer logged', async () => {
      logged = await transfersUnder(shared);
      return expected.every((e) => logged.some((l) => JSON.stringify(l) === JSON.stringify(e)));
    }, { details: () => JSON.stringify(logged) });
  });
});

describe('asyncssh', () => {
  /** Exec, an SFTP upload and a pty shell typed at its prompt, on one connection. */
  const script = `
import asyncio, sys, asyncssh
port, user, key, shared = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
async def main():
    async with asyncssh.connect('127.0.0.1', port=port, username=user, client_keys=[key], known_hosts=None, agent_path=None) as conn:
        r = await conn.run('echo via-asyncssh-$((6*7)); exit 4')
        print(r.stdout.strip(), r.exit_status)
        async with conn.start_sftp_client() as sftp:
            await sftp.put(sys.argv[5], shared + '/asyncssh-' + sys.argv[6] + '.txt')
            print((await sftp.stat(shared + '/asyncssh-' + sys.argv[6] + '.txt')).size)
        p = await conn.create_process(term_type='xterm', term_size=(80, 24))
        async def until(text):
            seen = ''
            while text not in seen:
                seen += await asyncio.wait_for(p.stdout.read(1024), 20)
        await until('$ ')
        p.stdin.write('echo async-typed-$((6*7))\\n')
        await until('async-typed-42')
        p.stdin.write('exit\\n')
        await p.wait_closed()
        print('shell', p.exit_status)
asyncio.run(main())
`;

  it('runs a command, uploads by SFTP and types in a pty shell as it does direct; all recorded and logged', async () => {
    const payload = path.join(tmp, 'asyncssh-payload.txt');
    writeFileSync(payload, 'asyncssh payload\n'.repeat(500));
    const py = (port: number, login: string, key: string, tag: string) => run(PYTHON, ['-W', 'ignore', '-c', script, String(port), login, key, shared, payload, tag]);
    const [d, w] = [await py(sshd.port, sshd.user, sshd.clientKeyPath, 'direct'), await py(warden.port, LOGIN, warden.aliceKey, 'warden')];
    expect(d.stdout.toString(), d.stderr).toBe('via-asyncssh-42 4\n8500\nshell 0\n');
    expect(w.stdout.toString(), w.stderr).toBe(d.stdout.toString());
    const rec = await recordWith('via-asyncssh');
    expect(rec.channels.map((c) => c.kind)).toEqual(['exec', 'sftp', 'shell']);
    expect(castText(rec, 1)).toContain('via-asyncssh-42');
    expect(castText(rec, 3)).toContain('async-typed-42');
    await waitUntil('the typed line logged', async () => (await commandsOf(rec.id)).includes('echo async-typed-$((6*7))'));
    await waitUntil('the upload logged', async () => (await transfersUnder(shared)).some((t) => t.op === 'upload' && t.path === `${shared}/asyncssh-warden.txt` && t.bytes === 8500 && t.result === 'ok'));
  });
});

describe('ansible', () => {
  it('ping, copy and command run through Warden over its multiplexed connection; each module run is a recorded channel', async () => {
    const home = makeTempDir('ansible-home-');
    try {
      const knownHosts = path.join(home, 'known_hosts');
      const hostKey = execFileSync('ssh-keygen', ['-yf', path.join(warden.dir, 'host_ed25519')], { encoding: 'utf8' }).trim();
      writeFileSync(knownHosts, `[127.0.0.1]:${warden.port} ${hostKey}\n`);
      const inventory = path.join(home, 'inventory.ini');
      writeFileSync(inventory, [
        '[bastion]',
        `web1 ansible_host=127.0.0.1 ansible_port=${warden.port} ansible_user=${LOGIN} ansible_ssh_private_key_file=${warden.aliceKey} ansible_python_interpreter=/usr/bin/python3`,
        '',
      ].join('\n'));
      const config = path.join(home, 'ansible.cfg');
      writeFileSync(config, '[defaults]\nhost_key_checking = True\n');
      const env = {
        HOME: home,
        ANSIBLE_CONFIG: config,
        ANSIBLE_LOCAL_TEMP: path.join(home, 'tmp'),
        ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(home, 'cp'),
        // The known_hosts above, checked strictly; nothing from the machine's ssh config.
        ANSIBLE_SSH_COMMON_ARGS: `-F /dev/null -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o IdentityAgent=none`,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_FORCE_COLOR: '0',
      };
      const ansible = (module: string, args?: string) => run('ansible', ['-i', inventory, 'web1', '-m', module, ...(args ? ['-a', args] : [])], env);
      const ping = await ansible('ping');
      expect(ping.stdout.toString(), ping.stderr).toMatch(/web1 \| SUCCESS => \{[\s\S]*"ping": "pong"/);
      const copy = await ansible('copy', `content="from ansible\\n" dest=${shared}/ansible-copy.txt mode=0644`);
      expect(copy.stdout.toString(), copy.stderr).toMatch(/web1 \| CHANGED/);
      expect(readFileSync(path.join(shared, 'ansible-copy.txt'), 'utf8')).toBe('from ansible\n');
      const cmd = await ansible('command', 'echo ansible-ran-$((6*7))');
      // command runs without a shell: the text comes back as typed.
      expect(cmd.stdout.toString(), cmd.stderr).toMatch(/web1 \| CHANGED \| rc=0 >>\nansible-ran-\$\(\(6\*7\)\)\n/);
      // ansible's ControlPersist master holds one connection for all three: every module run
      // (a python3 exec, after the module is sent by SFTP) is a channel of it, recorded. The
      // session ends with the master: ask it to exit rather than wait out ControlPersist.
      const cp = path.join(home, 'cp');
      const sockets = readdirSync(cp);
      expect(sockets).toHaveLength(1);
      execFileSync('ssh', ['-F', '/dev/null', '-o', `ControlPath=${path.join(cp, sockets[0]!)}`, '-O', 'exit', 'web1'], { stdio: 'ignore' });
      const rec = await waitForRecord('the ansible session recorded', (r) => r.channels.filter((c) => c.command?.includes('AnsiballZ_command.py')).length > 0);
      const execs = rec.channels.filter((c) => c.kind === 'exec');
      for (const module of ['ping', 'copy', 'command']) expect(execs.some((c) => c.command?.includes(`AnsiballZ_${module}.py`)), module).toBe(true);
      expect(rec.channels.some((c) => c.kind === 'sftp')).toBe(true);
      const commandRun = execs.find((c) => c.command?.includes('/usr/bin/python3') && c.command.includes('AnsiballZ_command.py'))!;
      expect(castText(rec, commandRun.n)).toContain('ansible-ran-');
      await waitUntil('the module uploads logged', async () => (await queryTransfers(warden.instance.redis, warden.instance.keys, { session: rec.id, path: 'AnsiballZ_*.py', limit: 100 })).length >= 3);
    } finally {
      removeTempDir(home);
    }
  });
});

describe('ssh-audit', () => {
  /** What ssh-audit flags in a server's offer: `kex ecdh-sha2-nistp256 fail`, ... */
  async function audit(port: number): Promise<{ offered: string[]; flagged: string[] }> {
    const res = await run('ssh-audit', ['-p', String(port), '127.0.0.1'], { NO_COLOR: '1' });
    const lines = res.stdout.toString().replace(/\x1b\[[\d;]*m/g, '').split('\n');
    const algs = lines.map((l) => /^\((kex|key|enc|mac)\) (\S+)\s+-- \[(\w+)\]/.exec(l)).filter((m) => m !== null);
    return {
      offered: algs.map((m) => `${m[1]} ${m[2]}`),
      flagged: algs.filter((m) => m[3] === 'fail' || m[3] === 'warn').map((m) => `${m[1]} ${m[2]} ${m[3]}`),
    };
  }

  it("finds nothing in Warden's front door that it does not find in a stock OpenSSH sshd", async () => {
    const [w, d] = [await audit(warden.port), await audit(sshd.port)];
    // The scans ran: each saw its server's offer.
    expect(w.offered).toEqual(expect.arrayContaining(['kex curve25519-sha256', 'key ssh-ed25519', 'enc chacha20-poly1305@openssh.com', 'mac hmac-sha2-256-etm@openssh.com']));
    expect(d.offered.length).toBeGreaterThan(10);
    expect(w.flagged.filter((f) => !d.flagged.includes(f))).toEqual([]);
  });

  it('with `algorithms` narrowed as a hardening guide asks, flags nothing, and a client that insists on a removed one is told', async () => {
    const hardened = await startWarden({
      redisUrl: redis.url,
      sshd,
      prefix: 'hardened',
      extraYaml: 'algorithms: { kex: [curve25519-sha256, curve25519-sha256@libssh.org, diffie-hellman-group16-sha512, diffie-hellman-group18-sha512], macs: [hmac-sha2-256-etm@openssh.com, hmac-sha2-512-etm@openssh.com] }',
    });
    try {
      const h = await audit(hardened.port);
      expect(h.offered).toEqual(expect.arrayContaining(['kex curve25519-sha256', 'kex diffie-hellman-group18-sha512', 'mac hmac-sha2-512-etm@openssh.com']));
      expect(h.offered.filter((a) => /nistp|hmac-sha2-256$|hmac-sha2-512$|group14|group-exchange/.test(a))).toEqual([]);
      // Only the strict-KEX marker is left, which this ssh-audit does not know.
      expect(h.flagged).toEqual(['kex kex-strict-s-v00@openssh.com warn']);
      // At ssh's default log level, as a user runs it (the test options hide all but errors).
      const refused = await run('ssh', ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'KexAlgorithms=ecdh-sha2-nistp256', '-i', hardened.aliceKey, '-p', String(hardened.port), '-l', LOGIN, '127.0.0.1', 'true']);
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/no matching key exchange method found\. Their offer: curve25519-sha256,/);
      const ok = await runSsh({ port: hardened.port, login: LOGIN, identity: hardened.aliceKey, command: 'echo hardened-ok' });
      expect({ code: ok.code, out: ok.stdout.toString() }, ok.stderr).toEqual({ code: 0, out: 'hardened-ok\n' });
    } finally {
      await hardened.stop();
    }
  });
});
