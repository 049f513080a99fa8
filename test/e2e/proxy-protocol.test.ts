/**
 * Warden behind a real haproxy that speaks the PROXY protocol (v1 with `send-proxy`, v2 with
 * `send-proxy-v2`): the session record and the audit log name the client, not the balancer,
 * and the fleet-wide auth penalty blocks one client's address without blocking everyone who
 * comes through the same balancer. The admin API behind the same haproxy in HTTP mode
 * (X-Forwarded-For/-Proto): its login limit blocks one admin's address, not all of them.
 * Clients bind distinct loopback addresses (127.0.0.x) so that "the client" and "the
 * balancer" differ on one machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/password.js';
import type { SessionRecord } from '../../src/session-record.js';
import { freePort, makeTempDir, removeTempDir, trackChild, tryConnect, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { ALICE_PASSWORD, GENEROUS_ADMISSION, startWarden, type WardenHandle } from '../helpers/warden.js';

const LOGIN = 'alice@target@web1';

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenHandle;
let haproxy: ChildProcess | undefined;
let tmp: string;
/** haproxy's ports: sends PROXY v1, sends PROXY v2, HTTP to the admin API. */
let v1Port: number;
let v2Port: number;
let apiPort: number;
let adminPort: number;
const CAROL_PW = 'carol-behind-haproxy';

beforeAll(async () => {
  tmp = makeTempDir('haproxy-');
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  [v1Port, v2Port, apiPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  warden = await startWarden({
    redisUrl: redis.url,
    sshd,
    // The balancer connects from 127.0.0.1; clients bind other loopback addresses.
    extraYaml: [
      'proxyProtocol: { trusted: [127.0.0.1/32] }',
      `admin: { listen: "127.0.0.1:${adminPort}", trustedProxies: [127.0.0.1], loginAttempts: 3, admins: { carol: { password: "${await hashPassword(CAROL_PW)}", role: operator } } }`,
    ].join('\n'),
    auth: `{ maxTries: 6, loginGraceTime: 60s, penaltyThreshold: 3, penaltyWindow: 10m, ${GENEROUS_ADMISSION} }`,
  });
  const cfg = path.join(tmp, 'haproxy.cfg');
  writeFileSync(cfg, [
    'global', '  maxconn 200',
    'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s',
    // Health checks every 300 ms, as a balancer runs them: they carry a header too.
    'listen v1', `  bind 127.0.0.1:${v1Port}`, `  server warden 127.0.0.1:${warden.port} send-proxy check inter 300`,
    'listen v2', `  bind 127.0.0.1:${v2Port}`, `  server warden 127.0.0.1:${warden.port} send-proxy-v2 check inter 300`,
    // A TLS-terminating proxy's headers (the TLS itself is left out: the headers are the point).
    'listen api', '  mode http', `  bind 127.0.0.1:${apiPort}`, '  option forwardfor', '  http-request set-header X-Forwarded-Proto https',
    `  server warden 127.0.0.1:${adminPort}`,
    '',
  ].join('\n'));
  haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(haproxy);
  let err = '';
  haproxy.stderr!.on('data', (d) => (err += d));
  await waitUntil('haproxy listening', async () => (await tryConnect(v1Port)) && (await tryConnect(v2Port)) && (await tryConnect(apiPort)), {
    failure: () => (haproxy!.exitCode !== null ? `haproxy exited: ${err}` : undefined),
  });
}, 60_000);

afterAll(async () => {
  haproxy?.kill('SIGTERM');
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
  if (tmp) removeTempDir(tmp);
});

/** ssh from `source` (a loopback address) to `port`. */
const sshFrom = (source: string, port: number, auth: { identity: string } | { password: string }, command = 'echo proxied-ok') =>
  runSsh({ port, login: LOGIN, ...auth, command, extraArgs: ['-b', source] });

async function lastRecordFrom(remote: string): Promise<SessionRecord> {
  let rec: SessionRecord | undefined;
  await waitUntil(`a finished record from ${remote}`, async () => {
    rec = (await warden.instance.registry.listRecent(50)).find((r) => r.remote === remote && r.state === 'finished');
    return rec !== undefined;
  });
  return rec!;
}

describe('behind haproxy with the PROXY protocol', () => {
  it('records the client address from a v1 and a v2 header, in the record and the audit log', async () => {
    for (const [source, port] of [['127.0.0.2', v1Port], ['127.0.0.3', v2Port]] as const) {
      const res = await sshFrom(source, port, { identity: warden.aliceKey });
      expect({ code: res.code, out: res.stdout.toString() }, res.stderr).toEqual({ code: 0, out: 'proxied-ok\n' });
      const rec = await lastRecordFrom(source);
      expect(rec).toMatchObject({ user: 'alice', asset: 'web1', reason: 'client_closed' });
      expect(warden.logs().some((l) => l.event === 'auth_success' && l.session === rec.id && l.remote === source)).toBe(true);
    }
    // Nothing was recorded as coming from the balancer itself, and its health checks (every
    // 300 ms since haproxy started) left no warning and no record.
    expect((await warden.instance.registry.listRecent(50)).filter((r) => r.remote === '127.0.0.1')).toEqual([]);
    expect(warden.logs().filter((l) => String(l.msg).includes('PROXY header'))).toEqual([]);
  });

  it('blocks the address that failed too often, not everyone behind the same balancer', async () => {
    for (let i = 0; i < 3; i++) {
      const bad = await sshFrom('127.0.0.5', v2Port, { password: 'wrong-password' });
      expect(bad.code).toBe(255);
    }
    const blocked = await sshFrom('127.0.0.5', v2Port, { password: ALICE_PASSWORD });
    expect(blocked.code, 'the right password from a blocked address is refused too').toBe(255);
    const other = await sshFrom('127.0.0.6', v2Port, { password: ALICE_PASSWORD });
    expect({ code: other.code, out: other.stdout.toString() }, other.stderr).toEqual({ code: 0, out: 'proxied-ok\n' });
    expect(warden.logs().filter((l) => l.event === 'auth_failure' && l.remote === '127.0.0.5').length).toBeGreaterThanOrEqual(3);
    expect(warden.logs().some((l) => l.event === 'auth_failure' && l.remote === '127.0.0.1')).toBe(false);
  });

  it('a trusted peer without a header is refused; an untrusted one connects as itself, and its forged header counts for nothing', async () => {
    const headerless = await sshFrom('127.0.0.1', warden.port, { identity: warden.aliceKey });
    expect(headerless.code).toBe(255);
    await waitUntil('the refusal logged', async () => warden.logs().some((l) => l.msg === 'connection from a trusted proxy refused: bad PROXY header' && l.why === 'no PROXY protocol header'));

    const direct = await sshFrom('127.0.0.4', warden.port, { identity: warden.aliceKey });
    expect({ code: direct.code, out: direct.stdout.toString() }, direct.stderr).toEqual({ code: 0, out: 'proxied-ok\n' });
    await lastRecordFrom('127.0.0.4');

    // A client that is not a balancer writes a PROXY line naming someone else: to Warden it is
    // not an SSH version line, and the connection goes nowhere.
    const forged = await new Promise<string>((resolve) => {
      const s = net.connect({ port: warden.port, host: '127.0.0.1', localAddress: '127.0.0.4' });
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('connect', () => s.write('PROXY TCP4 203.0.113.9 127.0.0.1 4242 22\r\nSSH-2.0-Forger\r\n'));
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      setTimeout(() => s.destroy(), 5_000);
    });
    expect(forged).toMatch(/^SSH-2\.0-Warden/);
    await waitUntil('the forged connection is over', async () => (await warden.instance.supervisor.count()) === 0);
    const recent = await warden.instance.registry.listRecent(100);
    expect(recent.filter((r) => r.remote === '203.0.113.9')).toEqual([]);
  });
});

/** POST /api/login from `source`, to haproxy's API port or straight to the admin listener. */
function login(source: string, port: number, name: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; cookie: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ name, password });
    const req = http.request({ host: '127.0.0.1', port, localAddress: source, method: 'POST', path: '/api/login', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the admin API behind a reverse proxy (admin.trustedProxies)', () => {
  it("limits failed logins per client, not per proxy; trusts the proxy's scheme and no one else's headers", async () => {
    for (let i = 0; i < 3; i++) expect((await login('127.0.0.7', apiPort, `mallory${i}`, 'guess')).status).toBe(401);
    expect((await login('127.0.0.7', apiPort, 'carol', CAROL_PW)).status, "the failing client's address is limited").toBe(429);
    const carol = await login('127.0.0.8', apiPort, 'carol', CAROL_PW);
    expect(carol.status, 'another admin behind the same proxy is not').toBe(200);
    expect(carol.cookie).toMatch(/HttpOnly; SameSite=Strict; .*; Secure$/);
    expect(warden.logs().some((l) => l.event === 'admin_login' && l.admin === 'carol' && l.remote === '127.0.0.8')).toBe(true);
    expect(warden.logs().filter((l) => l.event === 'admin_login_failed').map((l) => l.remote)).toEqual(['127.0.0.7', '127.0.0.7', '127.0.0.7', '127.0.0.7']);

    // Straight to the listener, not through the proxy: the headers are the client's own words.
    const direct = await login('127.0.0.9', adminPort, 'carol', CAROL_PW, { 'x-forwarded-for': '127.0.0.7', 'x-forwarded-proto': 'https' });
    expect(direct.status).toBe(200);
    expect(direct.cookie).not.toMatch(/Secure/);
    expect(warden.logs().some((l) => l.event === 'admin_login' && l.remote === '127.0.0.9')).toBe(true);
  });
});
