/**
 * The admin API against two real Warden processes sharing one real Redis, with real sshd
 * targets and real ssh clients: listing across instances, kills through A's API of sessions
 * on B, roles, CSRF, metrics, readiness while Redis is down, and hostile input.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/password.js';
import { startAdminFleet, tokenLines, type AdminFleet } from '../helpers/admin-fleet.js';
import { readText, waitUntil } from '../helpers/processes.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';
import { openSession, type LiveSession } from '../helpers/live-session.js';

const OPS_TOKEN = 'ops-token-0123456789abcdef';
const VIEW_TOKEN = 'view-token-0123456789abcdef';
const CAROL_PW = 'carol-admin-pw';

let fleet: AdminFleet;
let a: WardenProcess;
let b: WardenProcess;
let apiA: string;

beforeAll(async () => {
  fleet = await startAdminFleet({
    ids: ['inst-a', 'inst-b'],
    admin: `  admins:\n    carol: { password: "${await hashPassword(CAROL_PW)}", role: operator }\n  tokens:\n${tokenLines({ 'ops-bot': [OPS_TOKEN, 'operator'], 'ci-bot': [VIEW_TOKEN, 'viewer'] })}`,
  });
  ({ a, b, apiA } = fleet);
}, 90_000);

afterAll(() => fleet?.stop(), 120_000);

type Json = Record<string, any>;

async function api(method: string, p: string, opts: { token?: string; cookie?: string; csrf?: string; body?: string; type?: string } = {}): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
  if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await fetch(`${apiA}${p}`, { method, headers, body: opts.body });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers };
}

async function liveId(marker: string, live: LiveSession): Promise<string> {
  await waitUntil(`session ${marker} up`, async () => live.out().includes(marker));
  let id = '';
  await waitUntil(`record of ${marker} via the API`, async () => {
    const r = await api('GET', `/api/sessions?q=${marker}`, { token: VIEW_TOKEN });
    id = (r.json.sessions as Json[] | undefined)?.[0]?.id ?? '';
    return id !== '';
  });
  return id;
}

async function login(): Promise<{ cookie: string; csrf: string }> {
  const r = await api('POST', '/api/login', { body: JSON.stringify({ name: 'carol', password: CAROL_PW }) });
  expect(r.status).toBe(200);
  const setCookie = r.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  return { cookie: setCookie.split(';')[0]!, csrf: r.json.csrfToken as string };
}

/**
 * Sum of the warden_live_sessions samples in a Prometheus text exposition (which must parse).
 * prom-client writes a NaN as `Nan` (the event-loop lag mean before its first sample); the
 * Prometheus parser reads floats with Go's ParseFloat, which takes NaN in any case.
 */
function liveGauge(text: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    expect(m[1]).toMatch(/^warden_/);
    expect(m[2] ?? '').not.toMatch(/session=/);
    if (m[1] === 'warden_live_sessions') sum += Number(m[3]);
  }
  return sum;
}

async function cliLiveCount(): Promise<number> {
  const res = await runCli(['sessions', '--json', '--config', a.configFile]);
  return (JSON.parse(res.stdout) as { live: unknown[] }).live.length;
}

describe('admin API', () => {
  it('lists sessions of both instances, and kills a session on B through A\'s API as carol', async () => {
    const onA = openSession(a, 'api-a');
    const onB = openSession(b, 'api-b');
    const idA = await liveId('api-a', onA);
    const idB = await liveId('api-b', onB);
    const list = await api('GET', '/api/sessions', { token: VIEW_TOKEN });
    expect(list.status).toBe(200);
    const byId = new Map((list.json.sessions as Json[]).map((s) => [s.id, s.instance]));
    expect(byId.get(idA)).toBe('inst-a');
    expect(byId.get(idB)).toBe('inst-b');

    const detail = await api('GET', `/api/sessions/${idB.slice(0, 14)}`, { token: VIEW_TOKEN });
    expect(detail.status).toBe(200);
    expect(detail.json.session).toMatchObject({ id: idB, instance: 'inst-b', state: 'proxying' });
    expect(Array.isArray(detail.json.commands)).toBe(true);

    // Viewer: 403, and the session lives on.
    const viewer = await api('POST', `/api/sessions/${idB}/kill`, { token: VIEW_TOKEN, body: '{"reason":"no"}' });
    expect(viewer.status).toBe(403);
    expect(viewer.json.error.code).toBe('ADMIN_FORBIDDEN');
    // No credentials: 401.
    const anon = await api('POST', `/api/sessions/${idB}/kill`, { body: '{}' });
    expect(anon.status).toBe(401);
    expect(anon.json.error.code).toBe('ADMIN_UNAUTHENTICATED');
    expect((await api('GET', '/api/sessions')).status).toBe(401);
    // Browser session without its CSRF token: refused.
    const { cookie, csrf } = await login();
    const noCsrf = await api('POST', `/api/sessions/${idB}/kill`, { cookie, body: '{}' });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json.error.code).toBe('ADMIN_CSRF');
    const wrongCsrf = await api('POST', `/api/sessions/${idB}/kill`, { cookie, csrf: `${csrf}x`, body: '{}' });
    expect(wrongCsrf.status).toBe(403);
    expect((await api('GET', `/api/sessions/${idB}`, { token: VIEW_TOKEN })).json.session.state).toBe('proxying');

    const gaugeBefore = liveGauge((await api('GET', '/metrics')).json.text as string);
    expect(gaugeBefore).toBe(await cliLiveCount());

    const kill = await api('POST', `/api/sessions/${idB}/kill`, { cookie, csrf, body: JSON.stringify({ reason: 'api maintenance' }) });
    expect(kill.status).toBe(200);
    expect(kill.json.acknowledgement).toMatchObject({ outcome: 'killed', sessionId: idB, instance: 'inst-b' });
    expect(kill.json.acknowledgement.totalMs).toBeGreaterThan(0);
    expect(await onB.exited).toBe(255);
    expect(onB.err()).toContain('Terminated by admin carol: api maintenance');

    await waitUntil('gauge follows the kill', async () => liveGauge((await api('GET', '/metrics')).json.text as string) === gaugeBefore - 1);
    expect(liveGauge((await api('GET', '/metrics')).json.text as string)).toBe(await cliLiveCount());
    const metrics = (await api('GET', '/metrics')).json.text as string;
    expect(metrics).toMatch(/^warden_kill_latency_seconds_count 1$/m);
    expect(metrics).toMatch(/warden_nodejs_eventloop_lag_seconds/);

    // Kill by user through the bearer token (no CSRF needed), then the audit log of A.
    const byUser = await api('POST', '/api/users/alice/kill', { token: OPS_TOKEN, body: '{"reason":"all of them"}' });
    expect(byUser.status).toBe(200);
    expect(byUser.json.acknowledgements).toEqual([expect.objectContaining({ outcome: 'killed', sessionId: idA })]);
    expect(await onA.exited).toBe(255);
    const auditFile = path.join(path.dirname(a.configFile), 'data', 'audit.jsonl');
    await waitUntil('admin events audited', async () => readText(auditFile).includes('"admin":"ops-bot"'));
    const events = readText(auditFile).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
    expect(events).toContainEqual(expect.objectContaining({ event: 'admin_login', admin: 'carol', remote: '127.0.0.1' }));
    expect(events).toContainEqual(expect.objectContaining({ event: 'admin_kill', admin: 'carol', session: idB, reason: 'api maintenance', outcome: 'killed' }));
    expect(events).toContainEqual(expect.objectContaining({ event: 'admin_kill', admin: 'ops-bot', via: 'token', session: idA }));
    expect(readText(auditFile)).not.toContain(CAROL_PW);
  });

  it('answers bad input with a clear 4xx and keeps serving', async () => {
    const t = { token: OPS_TOKEN };
    const cases: Array<[string, string, Parameters<typeof api>[2], number, string]> = [
      ['GET', '/api/sessions/01ZZZZZZZZZZ', t, 404, 'SESSION_NOT_FOUND'],
      ['GET', '/api/sessions/0', t, 400, 'SESSION_AMBIGUOUS'],
      ['GET', '/api/sessions/..%2F..%2Fetc%2Fpasswd', t, 400, 'BAD_REQUEST'],
      ['GET', '/api/sessions/%00abc', t, 400, 'BAD_REQUEST'],
      ['GET', '/api/sessions?state=dead', t, 400, 'BAD_REQUEST'],
      ['GET', '/api/commands?grep=(', t, 400, 'BAD_REQUEST'],
      ['POST', '/api/sessions/01ZZZZZZZZZZ/kill', { ...t, body: JSON.stringify({ reason: 'x'.repeat(201) }) }, 400, 'BAD_REQUEST'],
      ['POST', '/api/sessions/01ZZZZZZZZZZ/kill', { ...t, body: '{"reason": ' }, 400, 'BAD_REQUEST'],
      ['POST', '/api/users/alice/kill', { ...t, body: JSON.stringify({ reason: 'r', extra: 1 }) }, 400, 'BAD_REQUEST'],
      ['POST', '/api/users/..%2Froot/kill', { ...t, body: '{}' }, 400, 'BAD_REQUEST'],
      ['POST', '/api/users/alice/kill', { ...t, body: JSON.stringify({ reason: 'x'.repeat(1024 * 1024) }) }, 413, 'BAD_REQUEST'],
      ['GET', '/api/nothing', t, 404, 'NOT_FOUND'],
    ];
    for (const [method, p, opts, status, code] of cases) {
      const r = await api(method, p, opts);
      expect({ p, status: r.status, code: r.json.error?.code }).toEqual({ p, status, code });
      expect(r.json.error.message.length).toBeGreaterThan(5);
    }
    // The message names the field once, and says what a valid value looks like.
    expect((await api('GET', '/api/sessions/..%2F..%2Fetc%2Fpasswd', t)).json.error.message).toBe(
      'The request is malformed: path: id: session ids are 1-26 letters and digits (a ULID or its prefix)',
    );
    expect((await api('POST', '/api/sessions/01ZZZZZZZZZZ/kill', { ...t, body: JSON.stringify({ reason: 'x'.repeat(201) }) })).json.error.message).toMatch(
      /^The request is malformed: body: reason: Too big: expected string to have <=200 characters$/,
    );
    expect(a.child.exitCode).toBeNull();
    expect((await api('GET', '/healthz')).status).toBe(200);
    expect(a.log()).not.toContain(OPS_TOKEN);
  });

  it('rate-limits failed logins per name', async () => {
    const bad = () => api('POST', '/api/login', { body: JSON.stringify({ name: 'mallory', password: 'guess' }) });
    for (let i = 0; i < 5; i++) expect((await bad()).json.error.code).toBe('ADMIN_LOGIN_FAILED');
    const limited = await bad();
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('ADMIN_RATE_LIMITED');
  });

  it('/readyz turns 503 while Redis is down and 200 when it is back', async () => {
    expect((await api('GET', '/readyz')).status).toBe(200);
    await fleet.redis.kill9();
    try {
      await waitUntil('readyz 503', async () => (await api('GET', '/readyz')).status === 503);
      const r = await api('GET', '/readyz');
      expect(r.json.error.code).toBe('NOT_READY');
      expect(r.json.error.message).toMatch(/redis not reachable/);
    } finally {
      await fleet.redis.restart();
    }
    await waitUntil('readyz 200', async () => (await api('GET', '/readyz')).status === 200, { timeoutMs: 20_000 });
  });
});
