/**
 * The admin CLI against real processes: `sessions`, `commands`, `hostkeys` (and a TOFU key
 * that changes after first use), `check-config`, `hash-password`, `kill` when the owner is
 * dead or does not answer, what `kill` loads (the CLI bundle, none of the server), and a session
 * cut at its maximum duration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSessionId } from '../../src/ids.js';
import { InstanceRegistry } from '../../src/instance-registry.js';
import { verifyPassword } from '../../src/password.js';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry, type SessionRecord } from '../../src/registry.js';
import { liveRecord, openSession } from '../helpers/live-session.js';
import { runCliTraced } from '../helpers/module-trace.js';
import { makeTempDir, waitUntil } from '../helpers/processes.js';
import { REPO_ROOT, startRedis, uniquePrefix, type RedisHandle } from '../helpers/redis.js';
import { runSsh } from '../helpers/ssh-client.js';
import { authLinesOfNextConnection, startSshd, type SshdHandle } from '../helpers/sshd.js';
import { runCli, spawnWarden } from '../helpers/warden-process.js';
import { startWarden, type WardenHandle } from '../helpers/warden.js';

let redis: RedisHandle;
let sshd: SshdHandle;
/** A second target whose host keys are replaced mid-test (the TOFU asset "moving"). */
let moving: SshdHandle;
let warden: WardenHandle;
let conn: Redis;

const shortGrant = `  - { users: [alice], assets: [short1], accounts: [target], session: { maxDuration: 4s, maxDurationWarning: 2s } }
  - { users: [alice], assets: [moving], accounts: [target] }`;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  moving = await startSshd({ authorizedKeys: [sshd.clientPublicKey] });
  warden = await startWarden({
    redisUrl: redis.url,
    sshd,
    extraGrants: shortGrant,
    extraAssets: `  short1: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.hostKeyLine}" }\n  moving: { host: 127.0.0.1, port: ${moving.port}, hostKey: tofu }`,
  });
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
});

afterAll(async () => {
  conn?.disconnect();
  await warden?.stop();
  await Promise.all([sshd?.stop(), moving?.stop(), redis?.stop()]);
});

const cli = (...args: string[]) => runCli([...args, '--config', warden.configFile]);

describe('warden sessions and warden commands', () => {
  it('sessions lists a live session, and --all --json shows it finished with its reason', async () => {
    const live = openSession(warden, 'listed-live');
    const rec = await liveRecord(warden.instance.registry, 'listed-live', live);
    const table = await cli('sessions');
    expect(table.code, table.stderr).toBe(0);
    const row = table.stdout.split('\n').find((l) => l.startsWith(rec.id));
    expect(row).toMatch(/^\S+\s+alice\s+web1\s+target\s+\S+\s+127\.0\.0\.1\s+exec\s+.*proxying/);

    live.child.kill();
    await waitUntil('finished', async () => (await warden.instance.registry.get(rec.id))?.state === 'finished');
    const json = await cli('sessions', '--all', '--json', '--limit', '500');
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { live: SessionRecord[]; recent: SessionRecord[] };
    expect(out.live.map((r) => r.id)).not.toContain(rec.id);
    expect(out.recent.find((r) => r.id === rec.id)).toMatchObject({ user: 'alice', asset: 'web1', state: 'finished', reason: 'client_closed' });
  });

  it('commands finds a logged command by --grep and by session prefix, as a table and as JSON', async () => {
    const [res, other] = await Promise.all([
      runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo cli-logged-$((6*7))' }),
      runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo cli-other-session' }),
    ]);
    expect(res.stdout.toString()).toBe('cli-logged-42\n');
    expect(other.code).toBe(0);
    let id = '';
    await waitUntil('command logged', async () => {
      const r = await cli('commands', '--grep', 'cli-logged', '--json');
      const entries = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { session: string; tag?: string; command: string; user: string });
      const hit = entries.find((e) => e.command === 'echo cli-logged-$((6*7))');
      if (hit) {
        expect(hit).toMatchObject({ user: 'alice', tag: 'exec' });
        id = hit.session;
      }
      return hit !== undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const bySession = await cli('commands', '--session', id.slice(0, 16));
    expect(bySession.code, bySession.stderr).toBe(0);
    expect(bySession.stdout).toMatch(/^TIME\s+SESSION\.CHANNEL\s+USER\s+ASSET\s+ACCOUNT\s+AT \(s\)\s+TAG\s+COMMAND/);
    expect(bySession.stdout).toContain(`${id}.1`);
    expect(bySession.stdout).toMatch(/alice\s+web1\s+target\s+\d+\.\d\s+exec\s+echo cli-logged-\$\(\(6\*7\)\)/);
    const rows = bySession.stdout.trim().split('\n').slice(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(id);
    await waitUntil('the other command logged', async () => (await cli('commands', '--grep', 'cli-other-session')).stdout.includes('echo cli-other-session'), { timeoutMs: 30_000, intervalMs: 500 });
    expect(bySession.stdout).not.toContain('cli-other-session');
    const none = await cli('commands', '--grep', 'no-such-command-anywhere');
    expect(none.stdout.trim()).toBe('No commands match.');
    const badRe = await cli('commands', '--grep', '(');
    expect(badRe.code).toBe(1);
    expect(badRe.stderr).toContain('--grep');
  }, 90_000);

  it('writes all of a listing larger than a pipe holds to a reader that is slow to start', async () => {
    // bin/warden.js exits as soon as a command returns, which must not cut output still queued
    // for a full pipe (Node queues what the pipe does not take at once).
    const registry = warden.instance.registry;
    const ids = Array.from({ length: 400 }, () => newSessionId());
    await Promise.all(ids.map(async (id) => {
      const rec: SessionRecord = {
        id, user: 'piped', asset: 'web1', account: 'target', remote: '127.0.0.1', instance: 'piped-instance', kind: 'exec', state: 'proxying',
        start: Date.now(), lastActivity: Date.now(), bytesIn: 0, bytesOut: 0, channelCount: 0, channels: [],
      };
      await registry.open(rec);
      await registry.finish({ ...rec, reason: 'client_closed' });
    }));
    const shell = `node ${path.join(REPO_ROOT, 'bin/warden.js')} sessions --all --json --limit 1000 --config ${warden.configFile} | (sleep 1; cat)`;
    const run = await runCli(['-c', shell], 60_000, undefined, { executable: '/bin/sh' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(2 * 65_536);
    const out = JSON.parse(run.stdout) as { recent: SessionRecord[] };
    expect(out.recent.map((r) => r.id)).toEqual(expect.arrayContaining(ids));
  });
});

describe('host keys', () => {
  it('refuses a TOFU asset whose key changed after first use, without sending credentials, until an admin forgets it', async () => {
    const first = await runSsh({ port: warden.port, login: 'alice@target@moving', identity: warden.aliceKey, command: 'echo first-use' });
    expect(first.stdout.toString(), first.stderr).toBe('first-use\n');
    const listed = await cli('hostkeys', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as Array<{ asset: string; mode: string; fingerprint?: string }>;
    expect(rows.find((r) => r.asset === 'moving')).toMatchObject({ mode: 'tofu', fingerprint: moving.hostKeyFingerprint });
    expect(rows.find((r) => r.asset === 'web1')).toMatchObject({ mode: 'pinned', fingerprint: sshd.hostKeyFingerprint });

    // The same address now answers with other host keys (a rebuilt or impersonated server).
    const port = moving.port;
    const oldFingerprint = moving.hostKeyFingerprint;
    await moving.stop();
    moving = await startSshd({ port, authorizedKeys: [sshd.clientPublicKey] });
    expect(moving.hostKeyFingerprint).not.toBe(oldFingerprint);
    const logFrom = moving.log().length;
    const since = Date.now();
    const refused = await runSsh({ port: warden.port, login: 'alice@target@moving', identity: warden.aliceKey, command: 'echo should-not-run' });
    expect(refused.code).toBe(255);
    expect(refused.stdout.toString()).toBe('');
    expect(refused.stderr).toContain(`presented ssh-ed25519 ${moving.hostKeyFingerprint} but ${oldFingerprint} was trusted on first use`);
    expect(refused.stderr).toContain('an admin must run `warden hostkeys --forget moving`');
    expect(await authLinesOfNextConnection(moving, logFrom)).toEqual([]);
    expect(warden.logs().find((l) => l.event === 'hostkey_mismatch' && l.asset === 'moving')).toMatchObject({ expected: oldFingerprint, presented: moving.hostKeyFingerprint });
    await waitUntil('mismatch recorded', async () => (await warden.instance.registry.listRecent(100)).some((r) => r.asset === 'moving' && r.reason === 'hostkey_mismatch' && r.start >= since - 1_000));

    const forgot = await cli('hostkeys', '--forget', 'moving');
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toContain('Forgot the trusted key of moving');
    const again = await cli('hostkeys', '--forget', 'moving');
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('No trusted key stored for moving');
    const trusted = await runSsh({ port: warden.port, login: 'alice@target@moving', identity: warden.aliceKey, command: 'echo trusted-again' });
    expect(trusted.stdout.toString(), trusted.stderr).toBe('trusted-again\n');
    expect(await warden.instance.redis.hget(warden.instance.keys.hostKeys, 'moving')).toBe(moving.hostKeyLine);
  }, 90_000);
});

describe('check-config and hash-password', () => {
  it('check-config accepts the test config and names the key path of a bad one', async () => {
    const good = await cli('check-config');
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/: OK \(2 users, \d+ assets, 2 accounts, \d+ grants\)/);

    const dir = makeTempDir('bad-config-');
    const bad = path.join(dir, 'warden.yaml');
    const text = readFileSync(warden.configFile, 'utf8')
      .replace(/(  web2: \{ host: 127\.0\.0\.1, port: )\d+/, '$1banana')
      .replace('maxTries: 6', 'maxTries: -1');
    expect(text).toContain('port: banana');
    expect(text).toContain('maxTries: -1');
    writeFileSync(bad, text);
    const res = await runCli(['check-config', '--config', bad]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('[CONFIG_INVALID]');
    expect(res.stderr).toMatch(/^\s+assets\.web2\.port: /m);
    expect(res.stderr).toMatch(/^\s+auth\.maxTries: /m);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('hash-password hashes stdin into a hash that verifies, and refuses an empty password', async () => {
    const res = await runCli(['hash-password'], 60_000, 'correct horse\n');
    expect(res.code, res.stderr).toBe(0);
    const hash = res.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$/);
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horse\n', hash)).toBe(false);
    expect(await verifyPassword('wrong', hash)).toBe(false);
    const other = await runCli(['hash-password'], 60_000, 'correct horse\n');
    expect(other.stdout.trim()).not.toBe(hash); // salted
    const empty = await runCli(['hash-password'], 60_000, '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('empty password');
  });
});

describe('max duration', () => {
  it('warns before the end, then ends the session with reason max_duration', async () => {
    const since = Date.now();
    const live = openSession(warden, 'long-running', 'alice@target@short1');
    expect(await live.exited).toBe(255);
    const err = live.err();
    const warned = err.indexOf('Warden: this session reaches its maximum duration in 2s.');
    const ended = err.indexOf('Disconnected: maximum session duration (4s) reached');
    expect(warned, err).toBeGreaterThanOrEqual(0);
    expect(ended, err).toBeGreaterThan(warned);
    let rec: SessionRecord | undefined;
    await waitUntil('max_duration recorded', async () => {
      rec = (await warden.instance.registry.listRecent(100)).find((r) => r.asset === 'short1' && r.start >= since - 1_000);
      return rec?.state === 'finished';
    });
    expect(rec).toMatchObject({ reason: 'max_duration', detail: '4s' });
    // Warden's own clock: not before the maximum (how late is the benchmark's business).
    expect(rec!.finish! - rec!.start).toBeGreaterThanOrEqual(4_000);
  });
});

describe('warden kill when the owner cannot answer', () => {
  /** One instance in a fleet of its own, so no other instance's reaper gets there first. */
  async function lonelyInstance(id: string, timing: string) {
    const prefix = uniquePrefix();
    const w = await spawnWarden({ redisUrl: redis.url, sshd, prefix, instanceId: id, extraYaml: `instance: ${timing}` });
    const keys = new RedisKeys(prefix);
    const registry = new Registry(conn, keys, { retentionMs: 86_400_000, historyMax: 1000 });
    return { w, registry, instances: new InstanceRegistry(conn, keys) };
  }

  it('finalises the session itself when the owner is dead (lease expired, nobody reaped it yet)', async () => {
    const { w, registry, instances } = await lonelyInstance('inst-dead', '{ heartbeatInterval: 500ms, lease: 2s, reaperInterval: 500ms }');
    const live = openSession(w, 'owner-dies');
    const rec = await liveRecord(registry, 'owner-dies', live);
    await w.kill9();
    await waitUntil('lease expired', async () => !(await instances.alive('inst-dead')), { timeoutMs: 30_000 });
    expect(await registry.get(rec.id)).toMatchObject({ state: 'proxying' });

    const res = await runCli(['kill', rec.id, '--by', 'hank', '--config', w.configFile]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`The instance inst-dead that owned ${rec.id} is gone (lease expired); its sessions were finalised as instance_lost.`);
    expect(await registry.get(rec.id)).toMatchObject({ state: 'finished', reason: 'instance_lost' });
    expect(await registry.liveIds('inst-dead')).toEqual([]);
    live.child.kill();
  }, 90_000);

  it('reports a timeout when the owner holds its lease but does not answer, and the kill lands once it does', async () => {
    const { w, registry } = await lonelyInstance('inst-frozen', '{ heartbeatInterval: 1s, lease: 2m, reaperInterval: 1s }');
    try {
      const live = openSession(w, 'owner-frozen');
      const rec = await liveRecord(registry, 'owner-frozen', live);
      w.child.kill('SIGSTOP');
      let res: Awaited<ReturnType<typeof runCli>>;
      try {
        res = await runCli(['kill', rec.id, '--by', 'ivy', '--timeout', '1s', '--config', w.configFile]);
      } finally {
        w.child.kill('SIGCONT');
      }
      expect(res.code).toBe(1);
      expect(res.stdout).toMatch(new RegExp(`No acknowledgement from inst-frozen within the timeout \\(\\d+(\\.\\d+)? ms\\); it holds its lease`));
      // The job stays on the owner's queue: once it runs again, the session is killed.
      expect(await live.exited).toBe(255);
      expect(live.err()).toContain('Terminated by admin ivy');
      await waitUntil('kill recorded', async () => (await registry.get(rec.id))?.state === 'finished');
      expect(await registry.get(rec.id)).toMatchObject({ reason: 'admin_kill', by: 'ivy' });
    } finally {
      w.child.kill('SIGCONT');
      await w.stop();
    }
  }, 90_000);
});

describe('what `warden kill` loads', () => {
  /**
   * Warden modules that only the server runs: the SSH front door, the actors, the admin plane.
   * None of them is in the CLI bundle at all (`warden start` runs from dist/src).
   */
  const SERVER_INPUT = /^dist\/(src\/(instance|front-door|session|supervisor|channel-relay|ssh2)\.js|src\/admin\/admin-server\.js|machines\/session\.machine\.js)$/;
  /**
   * Packages only the server needs. ssh2 at all: the full config's key checks require its key
   * parser when config.js is evaluated, so its absence shows that a kill read only the config's
   * Redis part (config.js is in the bundle for `check-config`, behind a lazy import).
   */
  const SERVER_PACKAGE = /node_modules\/(ssh2\/|fastify\/|@fastify\/|@xterm\/|xstate\/|pino\/|prom-client\/)/;

  it('has none of the server in the CLI bundle', () => {
    const meta = JSON.parse(readFileSync(path.join(REPO_ROOT, 'dist/cli/meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
    const inputs = Object.keys(meta.outputs['dist/cli/warden.cjs']?.inputs ?? {});
    expect(inputs).toContain('dist/src/control-client.js');
    expect(inputs).toContain('dist/src/config.js');
    expect(inputs.filter((i) => SERVER_INPUT.test(i) || i.includes('node_modules/bullmq/'))).toEqual([]);
  });

  it('kills from the CLI bundle without loading the SSH server, the actor runtime, the admin plane, BullMQ or the full config', async () => {
    const live = openSession(warden, 'traced-kill');
    const rec = await liveRecord(warden.instance.registry, 'traced-kill', live);
    const run = await runCliTraced(['kill', rec.id, '--by', 'kit', '--json', '--config', warden.configFile]);
    expect(run.code, run.stderr).toBe(0);
    // The kill went over the owner's kill channel, not the BullMQ queue it falls back to.
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'killed', sessionId: rec.id, instance: rec.instance, via: 'channel' });
    expect(await live.exited).toBe(255);
    expect(live.err()).toContain('Terminated by admin kit');

    const loaded = run.modules.map((f) => path.relative(REPO_ROOT, f));
    // The bundle ran (not tsc's dist/src); BullMQ's own bundle was never read.
    expect(loaded).toContain('dist/cli/warden.cjs');
    const offenders = loaded.filter((f) => f.startsWith('dist/src/') || f === 'dist/cli/bullmq.cjs' || SERVER_PACKAGE.test(f) || f.includes('node_modules/bullmq/'));
    expect(offenders).toEqual([]);
    // ioredis logged through the silent stand-in for `debug` (DEBUG is not set), and loaded
    // neither node:tls for a connection without TLS, nor node:assert, nor node:crypto for the
    // Lua scripts the kill never runs (patches/); session ids were read, not made (no ulid);
    // the acknowledgement was timed without `performance` (node:perf_hooks).
    expect(loaded.filter((f) => f.includes('node_modules/debug/'))).toEqual([]);
    expect(run.builtins).toContain('net');
    expect(run.builtins.filter((b) => ['tls', 'assert', 'tty', 'crypto', 'perf_hooks'].includes(b))).toEqual([]);
  });

  it('still prints ioredis\'s debug output when DEBUG asks for it', async () => {
    const run = await runCli(['sessions', '--config', warden.configFile], 60_000, undefined, { env: { ...process.env, DEBUG: 'ioredis:redis' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/ioredis:redis status\[.*\]: connecting -> connect/);
  });

  it('evaluates the full config, and with it ssh2\'s key parser, for `check-config`', async () => {
    const run = await runCliTraced(['check-config', '--config', warden.configFile]);
    expect(run.code, run.stderr).toBe(0);
    const loaded = run.modules.map((f) => path.relative(REPO_ROOT, f));
    expect(loaded).toContain('dist/cli/warden.cjs');
    expect(loaded.filter((f) => f.startsWith('node_modules/ssh2/'))).not.toEqual([]);
  });
});

describe('the CLI bundle\'s code cache', () => {
  it('ignores a cache V8 rejects, runs the command, and leaves a cache V8 accepts', async () => {
    const bundle = path.join(REPO_ROOT, 'dist/cli/warden.cjs');
    const cache = `${bundle}.cache`;
    // Garbage where the compiled code should be (a cache from another Node, a torn copy).
    const garbage = Buffer.alloc(4096, 0x5a);
    writeFileSync(cache, garbage);
    const run = await runCli(['sessions', '--json', '--config', warden.configFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveProperty('live');
    const written = readFileSync(cache);
    expect(written.equals(garbage)).toBe(false);
    const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData: written });
    expect(script.cachedDataRejected).toBe(false);
  });
});
