/**
 * The web console in a real browser (Debian's headless chromium via playwright-core) against
 * two real Warden processes sharing a real Redis, a real sshd, and real ssh clients (tmux for
 * the interactive shell): sign-in, sessions appearing live from the event stream, the idle
 * countdown, terminate with a reason and its acknowledgement, the same from the keyboard alone,
 * the viewer's limits, live watch,
 * replay seeking to a command's moment with the hash-chain verdict (intact, then tampered),
 * hostile text rendered as text, commands, instances (a lost one marked) and audit.
 * Screenshots of every page go to test-output/console/.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { Client } from 'ssh2';
import type { Browser, Locator, Page } from 'playwright-core';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/redis-keys.js';
import { Registry } from '../../src/registry.js';
import { hashPassword } from '../../src/password.js';
import { startAdminFleet, tokenLines, type AdminFleet } from '../helpers/admin-fleet.js';
import { launchBrowser, openPage, shoot, signIn, type WatchedPage } from '../helpers/browser.js';
import { openSession, type LiveSession } from '../helpers/live-session.js';
import { readText, sleep, waitUntil } from '../helpers/processes.js';
import { startTerminal, type Terminal } from '../helpers/tmux.js';
import { aliceSsh } from '../helpers/warden.js';
import type { WardenProcess } from '../helpers/warden-process.js';

const CAROL_PW = 'carol-console-pw';
const VERA_PW = 'vera-console-pw';
const TOKEN = 'console-test-token-0123456789';
const XSS = '<img src=x onerror=alert(1)>';

let fleet: AdminFleet;
let a: WardenProcess;
let b: WardenProcess;
let api: string;
let browser: Browser;
let carol: WatchedPage;
let page: Page;
let probe: Redis;

type Json = Record<string, any>;

/** expect.poll with a deadline for a loaded machine (its default is 1 s): it bounds "never". */
function poll<T>(probe: () => T | Promise<T>, opts: { timeout?: number } = {}) {
  return expect.poll(probe, { interval: 100, timeout: Math.max(30_000, opts.timeout ?? 0) });
}

beforeAll(async () => {
  const [carolHash, veraHash] = await Promise.all([hashPassword(CAROL_PW), hashPassword(VERA_PW)]);
  fleet = await startAdminFleet({
    ids: ['con-a', 'con-b'],
    admin: `  admins:\n    carol: { password: "${carolHash}", role: operator }\n    vera: { password: "${veraHash}", role: viewer }\n  tokens:\n${tokenLines({ 'test-bot': [TOKEN, 'viewer'] })}`,
    // Warned after 2 s without activity, cut after 30 s: a countdown to watch.
    extraGrants: '  - { users: [alice], assets: [idle1], accounts: [target], session: { idleTimeout: 30s, idleWarning: 28s } }',
  });
  ({ a, b, apiA: api } = fleet);
  probe = new Redis(fleet.redis.url);
  browser = await launchBrowser();
  carol = await openPage(browser);
  page = carol.page;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  probe?.disconnect();
  await fleet?.stop();
}, 120_000);

async function get(p: string): Promise<Json> {
  return (await (await fetch(`${api}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Json;
}

const liveRow = (p: Page, id: string) => p.locator(`[data-testid=live-sessions] tr[data-session="${id}"]`);
const recentRow = (p: Page, id: string) => p.locator(`[data-testid=recent-sessions] tr[data-session="${id}"]`);

/** The registry id of a session opened with openSession (its command holds the marker). */
async function idOf(marker: string, live: LiveSession): Promise<string> {
  await waitUntil(`session ${marker} up`, async () => live.out().includes(marker), { timeoutMs: 30_000, details: () => live.err() });
  let id = '';
  await waitUntil(`record of ${marker}`, async () => {
    id = ((await get('/api/sessions?state=live')).sessions as Json[]).find((s) => String(s.command ?? '').includes(marker))?.id ?? '';
    return id !== '';
  });
  return id;
}

const auditOf = (w: WardenProcess): Json[] =>
  readText(path.join(path.dirname(w.configFile), 'data', 'audit.jsonl')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);

const isFocused = (l: Locator) => l.evaluate((el) => el === document.activeElement);

/** Tab until `target` has the focus: it is reachable from the keyboard (fails after `max`). */
async function tabTo(p: Page, target: Locator, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await isFocused(target)) return;
    await p.keyboard.press('Tab');
  }
  throw new Error(`${String(target)} not reached with ${max} presses of Tab`);
}

function findFile(dir: string, name: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name === name) return path.join(e.parentPath, e.name);
  return undefined;
}

describe('web console', () => {
  it('signs in, shows the role, and shows a new ssh login within the event stream, without reloading', async () => {
    await page.goto(`${api}/`);
    await page.getByLabel('Admin name').waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await shoot(page, 'login');
    await page.getByLabel('Admin name').fill('carol');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByRole('alert').textContent()).toMatch(/Wrong admin name or password/);
    await signIn(page, api, 'carol', CAROL_PW);
    expect(await page.getByTestId('who').textContent()).toMatch(/carol\s*operator/);

    // First paint of the sessions page, loaded afresh (the cookie keeps carol signed in).
    await page.goto(`${api}/sessions`);
    const shown = await page.waitForFunction(() => document.querySelector('[data-testid=stream]')?.textContent === 'live' && document.querySelector('[data-testid=live-sessions]') ? performance.now() : 0);
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    console.log(`console: sessions page first contentful paint ${fcp.toFixed(0)} ms, table with the event stream live ${Number(await shown.jsonValue()).toFixed(0)} ms after navigation`);
    expect(fcp).toBeGreaterThan(0);

    // From here on, no navigation and no re-read of the session list: the row must come from the stream.
    const listReads: string[] = [];
    page.on('request', (r) => {
      if (/\/api\/sessions\?/.test(r.url())) listReads.push(r.url());
    });
    let navigations = 0;
    page.on('framenavigated', () => navigations++);

    const live = openSession(b, 'console-live-row');
    const id = await idOf('console-live-row', live);
    const seenAt = (await (await page.waitForFunction((sid) => (document.querySelector(`[data-testid=live-sessions] tr[data-session="${sid}"]`) ? Date.now() : 0), id, { polling: 'raf', timeout: 30_000 })).jsonValue()) as number;
    const authAt = auditOf(b).find((e) => e.event === 'auth_success' && e.session === id)?.time as number;
    console.log(`console: login row visible ${seenAt - authAt} ms after the ssh login authenticated on the other instance`);
    expect(listReads).toEqual([]);
    expect(navigations).toBe(0);
    const row = liveRow(page, id);
    await poll(() => row.textContent()).toMatch(/alice.*web1.*target.*con-b.*127\.0\.0\.1/);
    await poll(() => row.textContent()).toMatch(/proxying.*exec/);
    await shoot(page, 'sessions');
    live.child.kill();
    await live.exited;
    await recentRow(page, id).waitFor();
  });

  it('counts down to the cut while a session is idle-warned', async () => {
    await page.goto(`${api}/sessions`);
    await page.getByTestId('live-sessions').waitFor();
    const live = openSession(b, 'console-idle', 'alice@target@idle1');
    const id = await idOf('console-idle', live);
    const countdown = liveRow(page, id).getByTestId('idle-countdown');
    await countdown.waitFor({ timeout: 20_000 });
    const first = Number(/cut in (\d+) s/.exec((await countdown.textContent()) ?? '')?.[1]);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(28);
    // It ticks without any event: the deadline came with the state change.
    await poll(async () => Number(/cut in (\d+) s/.exec((await countdown.textContent()) ?? '')?.[1]), { timeout: 10_000 }).toBeLessThan(first);
    await shoot(page, 'sessions-idle');
    live.child.kill();
    await live.exited;
  });

  it('terminates a session with a reason: the user reads the admin\'s name, the page shows the acknowledgement, the row moves to finished', async () => {
    await page.goto(`${api}/sessions`);
    const live = openSession(b, 'console-kill');
    const id = await idOf('console-kill', live);
    await liveRow(page, id).getByRole('button', { name: 'Terminate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('console maintenance');
    await shoot(page, 'terminate-dialog');
    await dialog.getByRole('button', { name: 'Terminate' }).click();
    await poll(() => page.getByTestId('kill-outcome').textContent()).toMatch(new RegExp(`${id}: killed on con-b, acknowledged in [\\d.]+ ms`));
    expect(await live.exited).not.toBe(0);
    expect(live.err()).toContain('Terminated by admin carol: console maintenance');
    await poll(() => recentRow(page, id).textContent()).toContain('admin_kill by carol');
    expect(await liveRow(page, id).count()).toBe(0);

    // All sessions of a user at once.
    const [s1, s2] = [openSession(a, 'console-all-1', 'alice@target@web2'), openSession(b, 'console-all-2', 'alice@target@web2')];
    const ids = [await idOf('console-all-1', s1), await idOf('console-all-2', s2)];
    for (const sid of ids) await liveRow(page, sid).waitFor();
    await shoot(page, 'sessions-busy');
    await page.locator('.by-user').getByRole('button', { name: 'alice' }).click();
    await page.getByRole('dialog').getByLabel(/Reason/).fill('offboarding');
    await page.getByRole('dialog').getByRole('button', { name: 'Terminate' }).click();
    await Promise.all([s1.exited, s2.exited]);
    for (const s of [s1, s2]) expect(s.err()).toContain('Terminated by admin carol: offboarding');
    // The clients may exit before the API's answer reaches the page: wait for it.
    for (const sid of ids) await poll(() => page.getByTestId('kill-outcome').textContent()).toContain(`${sid}: killed`);
    for (const sid of ids) await poll(() => recentRow(page, sid).textContent()).toContain('admin_kill by carol');
  });

  it('works from the keyboard alone: sign in, skip link, terminate (Esc cancels, Enter confirms), move between pages', async () => {
    const kb = await openPage(browser);
    const p = kb.page;
    await p.goto(`${api}/`);
    await p.getByLabel('Admin name').waitFor();
    await tabTo(p, p.getByLabel('Admin name'));
    await p.keyboard.type('carol');
    await tabTo(p, p.getByLabel('Password'));
    await p.keyboard.type(CAROL_PW);
    await p.keyboard.press('Enter');
    await p.getByTestId('who').waitFor();
    await p.getByTestId('live-sessions').waitFor();

    // The first stop of a page is the skip link; it takes the focus past the navigation.
    await p.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await p.keyboard.press('Enter');
    await poll(() => p.evaluate(() => document.activeElement?.id)).toBe('main');

    const live = openSession(b, 'console-keyboard');
    const id = await idOf('console-keyboard', live);
    const terminate = liveRow(p, id).getByRole('button', { name: 'Terminate' });
    await terminate.waitFor();
    await tabTo(p, terminate);
    await p.keyboard.press('Enter');
    const dialog = p.getByRole('dialog');
    await dialog.waitFor();
    expect(await p.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('reason');
    await p.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await poll(() => isFocused(terminate)).toBe(true); // back where the keyboard user was
    expect(live.child.exitCode).toBeNull();

    await p.keyboard.press('Enter');
    await dialog.waitFor();
    await p.keyboard.type('keyboard only');
    await p.keyboard.press('Enter');
    await poll(() => p.getByTestId('kill-outcome').textContent()).toMatch(new RegExp(`${id}: killed on con-b`));
    expect(await live.exited).not.toBe(0);
    expect(live.err()).toContain('Terminated by admin carol: keyboard only');
    // The row and its button are gone: the focus is on the page, not lost to the document.
    await liveRow(p, id).waitFor({ state: 'detached' });
    expect(await p.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);

    await tabTo(p, p.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Instances' }));
    await p.keyboard.press('Enter');
    await p.getByTestId('instances-table').waitFor();
    expect(new URL(p.url()).pathname).toBe('/instances');
    expect(kb.dialogs).toEqual([]);
    expect(kb.problems).toEqual([]);
    await p.context().close();
  });

  it('shows a viewer no Terminate button and refuses their forged kill; a kill without the CSRF token is refused too', async () => {
    const vera = await openPage(browser);
    await signIn(vera.page, api, 'vera', VERA_PW);
    expect(await vera.page.getByTestId('who').textContent()).toMatch(/vera\s*viewer/);
    const live = openSession(a, 'console-viewer');
    const id = await idOf('console-viewer', live);
    await liveRow(vera.page, id).waitFor();
    expect(await vera.page.getByRole('button', { name: /Terminate/ }).count()).toBe(0);
    expect(await vera.page.locator('.by-user').count()).toBe(0);

    const forged = await vera.page.evaluate(async (sid) => {
      const me = (await (await fetch('/api/me')).json()) as { csrfToken: string };
      const r = await fetch(`/api/sessions/${sid}/kill`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: '{"reason":"forged"}' });
      return { status: r.status, body: (await r.json()) as { error: { code: string } } };
    }, id);
    expect(forged).toMatchObject({ status: 403, body: { error: { code: 'ADMIN_FORBIDDEN' } } });
    const noCsrf = await page.evaluate(async (sid) => {
      const r = await fetch(`/api/sessions/${sid}/kill`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"csrf"}' });
      return { status: r.status, body: (await r.json()) as { error: { code: string } } };
    }, id);
    expect(noCsrf).toMatchObject({ status: 403, body: { error: { code: 'ADMIN_CSRF' } } });
    await sleep(300);
    expect(live.child.exitCode).toBeNull();
    expect(((await get('/api/sessions?state=live')).sessions as Json[]).some((s) => s.id === id)).toBe(true);
    expect(vera.dialogs).toEqual([]);
    live.child.kill();
    await live.exited;
    await vera.page.context().close();
  });

  it('watches a tmux ssh session live, then replays it: a click on a command seeks the player there; the verdict is intact, then names the changed chunk', async () => {
    const term: Terminal = await startTerminal({ command: aliceSsh(b, 'alice@target@web1'), cols: 100, rows: 30 });
    await term.waitFor(/@[\w.-]+:~\$\s*$/m, 30_000);
    await term.send(`PS1='$ '; HISTFILE=/dev/null; clear; echo console-watch-start`);
    await term.sendKey('Enter');
    await term.waitFor(/^console-watch-start$/m);
    let id = '';
    await waitUntil('the shell in the registry', async () => {
      id = ((await get('/api/sessions?state=live')).sessions as Json[]).find((s) => s.kind === 'shell')?.id ?? '';
      return id !== '';
    });

    await page.goto(`${api}/sessions/${id}`);
    await poll(() => page.getByTestId('watch-status').textContent(), { timeout: 20_000 }).toMatch(/watching \(read-only\), 100x30/);
    const screen = () => page.locator('[data-testid=watch-terminal] .xterm-rows').textContent();
    await poll(screen).toContain('console-watch-start');
    for (const ch of 'echo typed-in-tmux') await term.send(ch);
    await term.sendKey('Enter');
    await poll(screen).toMatch(/typed-in-tmux.*typed-in-tmux/);
    await shoot(page, 'session-watch');

    // Commands a second or more apart, then the session ends and the page turns to the replay.
    await term.send(`echo first-marker; sleep 1.5`);
    await term.sendKey('Enter');
    await term.waitFor(/^first-marker$/m);
    await sleep(1600);
    await term.send(`echo second-marker '${XSS}'`);
    await term.sendKey('Enter');
    await term.waitFor(/^second-marker/m);
    await sleep(1000);
    await term.send('exit');
    await term.sendKey('Enter');
    await term.exited();
    await term.kill();

    await poll(() => page.getByTestId('verdict').textContent(), { timeout: 30_000 }).toMatch(/Hash chain: intact/);
    const commands = page.getByTestId('command-list').getByRole('button');
    await poll(() => commands.count()).toBeGreaterThanOrEqual(3);
    const time = async () => Number(await page.getByTestId('replay-time').textContent());
    for (const text of ['second-marker', 'first-marker', 'typed-in-tmux']) {
      const button = commands.filter({ hasText: text });
      const at = Number(await button.getAttribute('data-offset'));
      expect(at).toBeGreaterThan(0);
      await button.click();
      await poll(time).toBeGreaterThanOrEqual(at - 0.3);
      expect(await time()).toBeLessThanOrEqual(at + 0.5);
    }
    // The offsets are the recording's: a second and a half apart as typed.
    const first = Number(await commands.filter({ hasText: 'first-marker' }).getAttribute('data-offset'));
    const second = Number(await commands.filter({ hasText: 'second-marker' }).getAttribute('data-offset'));
    expect(second - first).toBeGreaterThan(1.4);
    expect(await page.getByRole('link', { name: 'Download .cast' }).getAttribute('href')).toBe(`/api/sessions/${id}/recording?channel=1`);
    await commands.filter({ hasText: 'second-marker' }).click();
    await shoot(page, 'session-replay');

    // Someone edits the recording on B's disk: the page, through A, names the chunk.
    const gz = findFile(path.join(path.dirname(b.configFile), 'data', 'recordings'), `${id}.1.cast.gz`)!;
    const text = gunzipSync(readFileSync(gz)).toString('utf8');
    writeFileSync(gz, gzipSync(Buffer.from(text.replaceAll('first-marker', 'FIRST-MARKER'))));
    await page.reload();
    await poll(() => page.getByTestId('verdict').textContent(), { timeout: 20_000 }).toMatch(/Hash chain: tampered \(.*chunk \d+ modified/);
    await shoot(page, 'session-replay-tampered');
    expect(carol.dialogs).toEqual([]);
  });

  it('renders user names, assets, commands and addresses holding markup and ANSI escapes as text', async () => {
    // Config names are restricted to [A-Za-z0-9_.-]; a registry record from a compromised or
    // older instance is not: write one, live and one finished, straight into Redis.
    const registry = new Registry(probe, new RedisKeys(fleet.prefix), { retentionMs: 3_600_000, historyMax: 1000 });
    const hostile = `${XSS}\u001b[31mred\u001b[0m`;
    const now = Date.now();
    const base = { user: hostile, asset: hostile, account: XSS, remote: XSS, instance: `ghost${XSS}`, kind: 'shell' as const, start: now, lastActivity: now, bytesIn: 0, bytesOut: 0, channelCount: 0, channels: [], command: XSS };
    const liveId = ulid();
    const doneId = ulid();
    await registry.open({ id: liveId, ...base, state: 'proxying' });
    await registry.open({ id: doneId, ...base, state: 'proxying' });
    await registry.finish({ id: doneId, ...base, state: 'finished', reason: 'admin_kill', by: hostile, detail: XSS });
    // And a real login whose target name is markup (OpenSSH refuses such names on its command
    // line; ssh2's client sends them): refused by Warden, audited with the name as typed.
    await new Promise<void>((resolve) => {
      const c = new Client();
      c.on('error', () => {});
      c.on('close', () => resolve());
      // The refusal is told on the first channel, then the connection closes.
      c.on('ready', () =>
        c.exec('true', (err, stream) => {
          if (err) return void c.end();
          stream.on('close', () => c.end()).resume();
          stream.stderr.resume();
        }),
      );
      setTimeout(() => c.end(), 15_000).unref();
      c.connect({ host: '127.0.0.1', port: a.port, username: `alice@target@${hostile}`, privateKey: readFileSync(a.aliceKey), readyTimeout: 20_000 });
    });

    await page.goto(`${api}/sessions`);
    await liveRow(page, liveId).waitFor();
    await recentRow(page, doneId).waitFor();
    const escaped = `${XSS}\\x1b[31mred\\x1b[0m`;
    expect(await liveRow(page, liveId).textContent()).toContain(escaped);
    // Announced on the stream, as an instance would: the row comes from the event itself.
    await poll(() => page.getByTestId('stream').textContent()).toBe('live');
    const announced = ulid();
    await probe.publish(registry.keys.events, JSON.stringify({ type: 'session_opened', session: announced, instance: XSS, user: hostile, asset: XSS, account: XSS, state: 'proxying', at: now }));
    await liveRow(page, announced).waitFor();
    expect(await liveRow(page, announced).textContent()).toContain(escaped);
    expect(await recentRow(page, doneId).textContent()).toContain(`admin_kill by ${escaped}`);
    await page.goto(`${api}/sessions/${doneId}`);
    await poll(() => page.getByTestId('session-meta').textContent()).toContain(escaped);
    await page.goto(`${api}/commands`);
    await poll(() => page.getByTestId('commands-table').textContent()).toContain(`second-marker '${XSS}'`);
    await page.goto(`${api}/audit`);
    await poll(() => page.getByTestId('audit-table').textContent(), { timeout: 20_000 }).toContain(`alice@target@${escaped}`);
    for (const p of ['/sessions', `/sessions/${doneId}`, `/sessions/${liveId}`, '/commands', '/audit']) {
      await page.goto(`${api}${p}`);
      await page.locator('main').waitFor();
      await sleep(200);
      expect(await page.locator('img').count(), p).toBe(0);
    }
    expect(carol.dialogs).toEqual([]);
    await registry.finish({ id: liveId, ...base, state: 'finished', reason: 'admin_kill' });
  });

  it('searches commands with links into the replay, lists audit events, marks a lost instance; readable at phone width', async () => {
    await page.goto(`${api}/commands`);
    await page.getByLabel('Text').fill('first-marker');
    await page.getByRole('button', { name: 'Search' }).click();
    const link = page.getByTestId('commands-table').getByRole('link', { name: /^at / });
    await poll(() => link.count()).toBe(1);
    await shoot(page, 'commands');
    await link.click();
    await poll(() => page.getByTestId('replay-time').textContent(), { timeout: 20_000 }).toMatch(/^\d/);
    expect(new URL(page.url()).searchParams.get('t')).toMatch(/^\d/);

    await page.goto(`${api}/audit`);
    await page.getByLabel('Event').fill('admin_kill');
    await page.getByRole('button', { name: 'Search' }).click();
    await poll(() => page.getByTestId('audit-table').textContent()).toMatch(/admin_kill.*admin=carol/);
    await shoot(page, 'audit');

    await page.goto(`${api}/instances`);
    for (const inst of ['con-a', 'con-b']) await page.locator(`tr[data-instance="${inst}"]`).waitFor();
    expect(await page.locator('tr[data-instance="con-b"]').textContent()).toMatch(/held/);
    // What con-b counted (its sessions terminated above), and the fleet's kills.
    await poll(() => page.locator('tr[data-instance="con-b"]').getByTestId('ended-by-reason').textContent()).toMatch(/admin_kill [1-9]/);
    expect(await page.getByTestId('fleet-counters').textContent()).toMatch(/Fleet: [1-9]\d* kills/);
    await shoot(page, 'instances');
    await b.kill9();
    await poll(() => page.locator('tr[data-instance="con-b"]').textContent(), { timeout: 30_000 }).toMatch(/lost/);
    expect(await page.locator('tr[data-instance="con-a"]').textContent()).toMatch(/held/);
    await shoot(page, 'instances-lost');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${api}/sessions`);
    await page.getByTestId('live-sessions').waitFor();
    // The page itself never scrolls sideways; wide tables scroll inside their box.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shoot(page, 'sessions-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(carol.problems).toEqual([]);
    expect(carol.dialogs).toEqual([]);
  });
});
