/**
 * Live watch end to end: two real Warden processes sharing one real Redis, a real sshd, the
 * user's real ssh client in a tmux pane on instance B, and the watcher on the other side:
 * `warden watch` (the CLI straight against Redis, in its own tmux pane) and the admin API's
 * WebSocket on instance A. Also: no publish traffic while nobody watches, publishing stops
 * when the last watcher leaves (or crashes), notices, audit events, unknown ids.
 */
import path from 'node:path';
import { userInfo } from 'node:os';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminFleet, tokenLines, type AdminFleet } from '../helpers/admin-fleet.js';
import { readText, sleep, waitUntil } from '../helpers/processes.js';
import { startTerminal, type Terminal } from '../helpers/tmux.js';
import { aliceSsh } from '../helpers/warden.js';
import { REPO_ROOT } from '../helpers/redis.js';
import { runCli, type WardenProcess } from '../helpers/warden-process.js';

const VIEW_TOKEN = 'view-token-watch-0123456789';

let fleet: AdminFleet;
let a: WardenProcess;
let b: WardenProcess;
let apiA: string;
let wsA: string;
let probe: Redis;

type Json = Record<string, any>;

beforeAll(async () => {
  fleet = await startAdminFleet({ ids: ['watch-a', 'watch-b'], admin: `  tokens:\n${tokenLines({ 'ci-bot': [VIEW_TOKEN, 'viewer'] })}` });
  ({ a, b, apiA } = fleet);
  wsA = apiA.replace(/^http/, 'ws');
  probe = new Redis(fleet.redis.url);
}, 90_000);

afterAll(async () => {
  probe?.disconnect();
  await fleet?.stop();
}, 120_000);

const auditOf = (w: WardenProcess): Json[] =>
  readText(path.join(path.dirname(w.configFile), 'data', 'audit.jsonl')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);

/** PUBLISH calls Redis has served so far (scripts' and clients' alike). */
async function publishes(): Promise<number> {
  const m = /^cmdstat_publish:calls=(\d+)/m.exec(await probe.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

/** A shell on B through Warden, with a short prompt; resolves with its terminal and session id. */
async function userShell(marker: string): Promise<{ term: Terminal; id: string }> {
  const before = new Set((await liveShells()).map((r) => r.id));
  const term = await startTerminal({ command: aliceSsh(b, 'alice@target@web1'), cols: 100, rows: 30 });
  await term.waitFor(/@[\w.-]+:~\$\s*$/m, 30_000);
  await term.send(`PS1='$ '; HISTFILE=/dev/null; clear; echo ${marker}`);
  await term.sendKey('Enter');
  await term.waitFor(new RegExp(`^${marker}$`, 'm'));
  let id = '';
  await waitUntil('the shell in the registry', async () => {
    id = (await liveShells()).find((r) => !before.has(r.id))?.id ?? '';
    return id !== '';
  });
  return { term, id };
}

async function liveShells(): Promise<Json[]> {
  const r = await fetch(`${apiA}/api/sessions?instance=watch-b`, { headers: { authorization: `Bearer ${VIEW_TOKEN}` } });
  return ((await r.json()) as Json).sessions.filter((s: Json) => s.kind === 'shell');
}

/** Type a line in the user's shell and wait until it ran; the publishes Redis served meanwhile. */
async function typeAndCount(term: Terminal, word: string): Promise<number> {
  const before = await publishes();
  for (const ch of `echo ${word}`) await term.send(ch); // key by key, as a person types
  await term.sendKey('Enter');
  await term.waitFor(new RegExp(`^${word}$`, 'm'));
  await sleep(200); // a batch is published within a few ms; give it ample time to show up
  return (await publishes()) - before;
}

function watchCli(id: string, cfg: string): Promise<Terminal> {
  return startTerminal({ command: [process.execPath, path.join(REPO_ROOT, 'bin/warden.js'), 'watch', id, '--config', cfg], cols: 100, rows: 30 });
}

describe('live watch', () => {
  it('warden watch (CLI, no admin listener needed) shows a shell on the other instance: screen first, then live; the user is told; audited; no publishing without watchers', async () => {
    const { term, id } = await userShell('before-watch');
    // Nobody watches: typing costs no PUBLISH at all.
    expect(await typeAndCount(term, 'unwatched-typing')).toBe(0);

    // A's config, B's session: the CLI only needs Redis.
    const watcher = await watchCli(id.slice(0, 20), a.configFile);
    await watcher.waitFor(/^before-watch$/m, 20_000);
    await watcher.waitFor(/^unwatched-typing$/m);
    await term.waitFor(/\[warden\] \S+ started watching this session \(read-only\)/);

    // Live: the watcher sees what the user types, and publishing is on.
    expect(await typeAndCount(term, 'typed-while-watched')).toBeGreaterThan(0);
    await watcher.waitFor(/^typed-while-watched$/m);

    await watcher.send('q');
    expect(await watcher.exited(15_000)).toBe(0);
    expect(await watcher.screen()).toMatch(/watch of \S+ ended: left/);
    await term.waitFor(/\[warden\] \S+ stopped watching this session/);

    // The last watcher left: back to no traffic.
    expect(await typeAndCount(term, 'after-leaving')).toBe(0);

    const me = userInfo().username;
    await waitUntil('watch audited on B', async () => auditOf(b).some((e) => e.event === 'watch_stop' && e.session === id));
    const events = auditOf(b).filter((e) => e.session === id && String(e.event).startsWith('watch_'));
    expect(events.map((e) => e.event)).toEqual(['watch_start', 'watch_stop']);
    expect(events[0]).toMatchObject({ admin: me, via: 'cli', instance: 'watch-b' });
    expect(events[1]).toMatchObject({ admin: me, via: 'cli', why: 'left' });
    await watcher.kill();
    await term.kill();
  });

  it('the WebSocket on A shows a shell on B, ignores anything the watcher sends, and ends when the session ends', async () => {
    const { term, id } = await userShell('ws-before');
    const messages: Json[] = [];
    const ws = new WebSocket(`${wsA}/api/sessions/${id}/watch`, { headers: { authorization: `Bearer ${VIEW_TOKEN}` } });
    ws.on('message', (m) => messages.push(JSON.parse(String(m)) as Json));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await waitUntil('first screen', async () => messages.length > 0, { timeoutMs: 20_000 });
    expect(messages[0]).toMatchObject({ type: 'screen', cols: 100, rows: 30 });
    expect(messages[0]!.data).toMatch(/ws-before/);
    await term.waitFor(/\[warden\] ci-bot started watching/);

    // Read-only: text sent on the socket never reaches the shell.
    ws.send('echo INJECTED-BY-WATCHER\r');
    for (const ch of 'echo ws-live') await term.send(ch);
    await term.sendKey('Enter');
    const shown = () => messages.filter((m) => m.type === 'output').map((m) => m.data as string).join('');
    await waitUntil('live output on the socket', async () => /ws-live\r\n/.test(shown()));
    expect(await term.screen()).not.toContain('INJECTED');
    expect(shown()).not.toContain('INJECTED');

    await term.resize(90, 25);
    await waitUntil('resize on the socket', async () => messages.some((m) => m.type === 'resize' && m.cols === 90 && m.rows === 25));

    await term.send('exit');
    await term.sendKey('Enter');
    expect(await closed).toBe(4000);
    expect(messages.at(-1)).toMatchObject({ type: 'end' });
    expect(messages.at(-1)!.reason).toMatch(/session ended/);
    await waitUntil('watch_stop audited', async () => auditOf(b).some((e) => e.event === 'watch_stop' && e.session === id));
    expect(auditOf(b).find((e) => e.event === 'watch_start' && e.session === id)).toMatchObject({ admin: 'ci-bot', via: 'api', remote: '127.0.0.1' });
    expect(auditOf(b).find((e) => e.event === 'watch_stop' && e.session === id)).toMatchObject({ admin: 'ci-bot', why: 'session_ended' });
    await term.kill();
  });

  it('a watcher that crashes stops counting after its entry expires, and publishing stops', async () => {
    const { term, id } = await userShell('crash-before');
    const watcher = await watchCli(id, a.configFile);
    await watcher.waitFor(/^crash-before$/m, 20_000);
    await watcher.kill(); // tmux server killed: the CLI dies without leaving
    await term.waitFor(/stopped watching this session/, 20_000);
    expect(await typeAndCount(term, 'after-crash')).toBe(0);
    expect(auditOf(b).filter((e) => e.session === id).map((e) => e.event)).toEqual(expect.arrayContaining(['watch_start', 'watch_stop']));
    await term.kill();
  });

  it('refuses unknown ids clearly, over the API and in the CLI', async () => {
    const unknown = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(`${wsA}/api/sessions/01ZZZZZZZZZZ/watch`, { headers: { authorization: `Bearer ${VIEW_TOKEN}` } });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', () => {});
    });
    expect(unknown.status).toBe(404);
    expect((JSON.parse(unknown.body) as Json).error.code).toBe('SESSION_NOT_FOUND');

    const anon = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${wsA}/api/sessions/01ZZZZZZZZZZ/watch`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(anon).toBe(401);

    const cli = await runCli(['watch', '01ZZZZZZZZZZ', '--config', a.configFile]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('No session matches that id');
  });
});
