/**
 * The admin API across a fleet: two real Warden processes sharing one real Redis, a real sshd
 * and real ssh clients. A recording made on B is fetched through A's API (proxied with the
 * fleet signature, verdict in a header, same bytes as B's file); A's event stream sees B's
 * sessions open and end and the kill's acknowledgement; /api/audit shows both instances'
 * events; once B is stopped its recordings give a 404 that says so.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminFleet, tokenLines, type AdminFleet } from '../helpers/admin-fleet.js';
import { waitUntil } from '../helpers/processes.js';
import type { WardenProcess } from '../helpers/warden-process.js';
import { openSession } from '../helpers/live-session.js';

const OPS = 'ops-token-0123456789abcdef';
const VIEW = 'view-token-0123456789abcdef';

let fleet: AdminFleet;
let a: WardenProcess;
let b: WardenProcess;
let apiA: string;
let apiB: string;

beforeAll(async () => {
  fleet = await startAdminFleet({
    ids: ['inst-a', 'inst-b'],
    admin: `  eventStreams: 2\n  eventsHeartbeat: 300ms\n  tokens:\n${tokenLines({ 'ops-bot': [OPS, 'operator'], 'ci-bot': [VIEW, 'viewer'] })}`,
  });
  ({ a, b, apiA, apiB } = fleet);
}, 90_000);

afterAll(() => fleet?.stop(), 120_000);

type Json = Record<string, any>;

async function get(p: string, token: string | undefined = VIEW, base = apiA, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; json: Json; headers: Headers }> {
  const res = await fetch(`${base}${p}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const body = Buffer.from(await res.arrayBuffer());
  let json: Json = {};
  try {
    json = JSON.parse(body.toString('utf8')) as Json;
  } catch {
    // a recording, not JSON
  }
  return { status: res.status, body, json, headers: res.headers };
}

interface EventStream {
  status: number;
  text(): string;
  events(): Json[];
  close(): void;
}

/** GET /api/events, read in the background until closed. */
async function openEvents(token = VIEW): Promise<EventStream> {
  const ac = new AbortController();
  const res = await fetch(`${apiA}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  let text = '';
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    void (async () => {
      for (;;) {
        const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (r.done) break;
        text += dec.decode(r.value, { stream: true });
      }
    })();
  }
  return {
    status: res.status,
    text: () => text,
    events: () =>
      text
        .split('\n\n')
        .flatMap((frame): Json[] => {
          const type = /^event: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          return type && data ? [{ ...(JSON.parse(data) as Json), sseType: type }] : [];
        }),
    close: () => ac.abort(),
  };
}

function findFile(dir: string, name: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name === name) return path.join(e.parentPath, e.name);
  return undefined;
}

const recordingsOf = (w: WardenProcess) => path.join(path.dirname(w.configFile), 'data', 'recordings');

describe('admin API across the fleet', () => {
  let idB = '';

  it('streams B\'s session and its kill on A, and serves B\'s recording through A with its verdict', async () => {
    expect((await openEvents('not-a-token')).status).toBe(401);
    const stream = await openEvents();
    expect(stream.status).toBe(200);
    await waitUntil('event stream connected', async () => stream.text().includes(': connected to inst-a'));

    const live = openSession(b, 'fleet-rec');
    await waitUntil('session up', async () => live.out().includes('fleet-rec'), { details: () => live.err() });
    await waitUntil('session_opened on A', async () => stream.events().some((e) => e.sseType === 'session_opened' && e.instance === 'inst-b'));
    const opened = stream.events().find((e) => e.sseType === 'session_opened')!;
    expect(opened).toMatchObject({ type: 'session_opened', user: 'alice', asset: 'web1', instance: 'inst-b' });
    idB = opened.session as string;

    // While live: served from B's open .cast, through A.
    const during = await get(`/api/sessions/${idB.slice(0, 16)}/recording`);
    expect(during.status).toBe(200);
    expect(during.headers.get('x-warden-recording-state')).toBe('live');
    expect(['intact', 'incomplete']).toContain(during.headers.get('x-warden-recording-verdict'));
    expect(JSON.parse(during.body.toString('utf8').split('\n')[0]!)).toMatchObject({ version: 2 });

    const kill = await fetch(`${apiA}/api/sessions/${idB}/kill`, { method: 'POST', headers: { authorization: `Bearer ${OPS}`, 'content-type': 'application/json' }, body: '{"reason":"fleet test"}' });
    expect(kill.status).toBe(200);
    await live.exited;
    await waitUntil('kill acknowledged and ended on A', async () =>
      stream.events().some((e) => e.sseType === 'kill_acknowledged' && e.session === idB && e.outcome === 'killed' && e.by === 'ops-bot') &&
      stream.events().some((e) => e.sseType === 'session_ended' && e.session === idB && e.reason === 'admin_kill'));
    expect(stream.text()).toContain(': keepalive');

    // Finalised on B: the API's bytes are B's file, gunzipped.
    let gz: string | undefined;
    await waitUntil('recording finalised on B', async () => (gz = findFile(recordingsOf(b), `${idB}.1.cast.gz`)) !== undefined && (await get(`/api/sessions/${idB}`)).json.session?.recordings?.[1] !== undefined);
    const got = await get(`/api/sessions/${idB}/recording`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/x-asciicast');
    expect(got.headers.get('x-warden-recording-verdict')).toBe('intact');
    expect(got.headers.get('x-warden-recording-instance')).toBe('inst-b');
    expect(got.headers.get('x-warden-recording-channel')).toBe('1');
    expect(got.headers.get('x-warden-recording-state')).toBe('finished');
    expect(got.body.equals(gunzipSync(readFileSync(gz!)))).toBe(true);
    expect(got.body.toString('utf8')).toContain('fleet-rec');

    // The detail lists the recorded channels and the session's audit events from B.
    const detail = await get(`/api/sessions/${idB}`);
    expect(detail.json.channels).toEqual([expect.objectContaining({ channel: 1, kind: 'exec', recording: `/api/sessions/${idB}/recording?channel=1` })]);
    await waitUntil('session audit in the detail', async () => {
      const events = ((await get(`/api/sessions/${idB}`)).json.audit ?? []) as Json[];
      return events.some((e) => e.event === 'session_end' && e.instance === 'inst-b') && events.some((e) => e.event === 'admin_kill' && e.instance === 'inst-a');
    });

    // Someone edits the recording on B's disk: the verdict through A says so.
    const text = gunzipSync(readFileSync(gz!)).toString('utf8');
    writeFileSync(gz!, gzipSync(Buffer.from(text.replace('fleet-rec', 'FLEET-REC'))));
    const tampered = await get(`/api/sessions/${idB}/recording?channel=1`);
    expect(tampered.status).toBe(200);
    expect(tampered.headers.get('x-warden-recording-verdict')).toBe('tampered');
    expect(tampered.headers.get('x-warden-recording-detail')).toMatch(/chunk \d+ modified/);
    stream.close();
  });

  it('shows both instances\' audit events fleet-wide, recording downloads included', async () => {
    let all: Json[] = [];
    await waitUntil('audit events of both instances', async () => {
      all = (await get('/api/audit?limit=1000')).json.events as Json[];
      return all.some((e) => e.instance === 'inst-a') && all.some((e) => e.instance === 'inst-b');
    });
    expect(all).toContainEqual(expect.objectContaining({ event: 'auth_success', user: 'alice', session: idB, instance: 'inst-b' }));
    expect(all).toContainEqual(expect.objectContaining({ event: 'admin_kill', admin: 'ops-bot', session: idB, instance: 'inst-a' }));
    // The stream is written off the request path (batched every 200 ms): poll for the last one.
    let downloads: Json[] = [];
    await waitUntil('three downloads audited', async () => {
      downloads = (await get(`/api/audit?event=recording_download&session=${idB.slice(0, 12)}`)).json.events as Json[];
      return downloads.length === 3;
    });
    expect(downloads[0]).toMatchObject({ admin: 'ci-bot', via: 'token', session: idB, channel: 1, holder: 'inst-b', instance: 'inst-a', proxied: true, verdict: 'tampered' });
    const alice = (await get('/api/audit?user=alice&limit=1000')).json.events as Json[];
    expect(alice.length).toBeGreaterThan(0);
    expect(alice.every((e) => e.user === 'alice' || e.login === 'alice')).toBe(true);
    expect((await get(`/api/audit?since=${Date.now() + 3_600_000}`)).json.events).toEqual([]);
    expect(JSON.stringify(all)).not.toContain(OPS);
  });

  it('caps event streams per instance and frees the place of a closed one', async () => {
    const [s1, s2] = [await openEvents(), await openEvents()];
    expect([s1.status, s2.status]).toEqual([200, 200]);
    const third = await get('/api/events');
    expect(third.status).toBe(503);
    expect(third.json.error.code).toBe('ADMIN_TOO_MANY_STREAMS');
    s1.close();
    await waitUntil('a place is free again', async () => {
      const s = await openEvents();
      s.close();
      return s.status === 200;
    });
    s2.close();
  });

  it('refuses bad input and unsigned instance-to-instance requests with a clear 4xx', async () => {
    // A second session, so that a short prefix is ambiguous.
    const onA = openSession(a, 'fleet-second');
    await waitUntil('second session listed', async () => ((await get('/api/sessions?q=fleet-second')).json.sessions as Json[]).length === 1, { details: () => onA.err() });
    const cases: Array<[string, number, string, string?]> = [
      ['/api/sessions/01ZZZZZZZZZZ/recording', 404, 'SESSION_NOT_FOUND'],
      ['/api/sessions/0/recording', 400, 'SESSION_AMBIGUOUS'],
      ['/api/sessions/..%2F..%2Fetc%2Fpasswd/recording', 400, 'BAD_REQUEST'],
      [`/api/sessions/${idB}/recording?channel=0`, 400, 'BAD_REQUEST'],
      [`/api/sessions/${idB}/recording?channel=..%2F1`, 400, 'BAD_REQUEST'],
      [`/api/sessions/${idB}/recording?channel=1&file=/etc/passwd`, 400, 'BAD_REQUEST'],
      [`/api/sessions/${idB}/recording?channel=7`, 404, 'RECORDING_NOT_FOUND'],
      ['/api/audit?since=yesterday', 400, 'BAD_REQUEST'],
      ['/api/audit?limit=100000', 400, 'BAD_REQUEST'],
      ['/api/audit?event=%0Aforged', 400, 'BAD_REQUEST'],
    ];
    for (const [p, status, code] of cases) {
      const r = await get(p);
      expect({ p, status: r.status, code: r.json.error?.code }).toEqual({ p, status, code });
    }
    // B's internal route wants the fleet signature, not an admin token, and never a forged one.
    const forged: Array<Record<string, string>> = [{}, { 'x-warden-fleet': `${Date.now()}.aW5zdC1h.Y2Fyb2w.AAAA` }];
    for (const headers of forged) {
      const r = await get(`/fleet/recordings/${idB}/1`, OPS, apiB, headers);
      expect({ status: r.status, code: r.json.error?.code }).toEqual({ status: 401, code: 'FLEET_UNAUTHENTICATED' });
    }
    expect((await get('/healthz')).status).toBe(200);
    onA.child.kill();
    await onA.exited;
  });

  it('says the instance holding a recording is gone once B has stopped', async () => {
    const stream = await openEvents();
    await waitUntil('event stream connected', async () => stream.text().includes(': connected'));
    await b.stop();
    await waitUntil('instance_down on A', async () => stream.events().some((e) => e.sseType === 'instance_down' && e.instance === 'inst-b'));
    const r = await get(`/api/sessions/${idB}/recording`);
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('RECORDING_INSTANCE_GONE');
    expect(r.json.error.message).toMatch(/instance holding this recording is gone.*inst-b/);
    stream.close();
  });
});
