/**
 * Experiment (not part of npm run bench): what one idle session costs, piece by piece. Each
 * variant is a fresh process; its VmRSS is sampled before and after N idle sessions (opened by
 * ssh2 clients in THIS process), and for Warden a heap snapshot before and after (in a separate
 * run: writing a snapshot inflates RSS) is summed per constructor.
 *
 *   npx tsx bench/experiments/idle-pieces.mts [N=200] [variant,...]
 *
 * Variants: warden (shipped defaults, pty shell), warden-norec (recording off), warden-conn
 * (logged in, target dialled, no channel), bare (a bare ssh2 relay, bench/bare-relay-server.ts, pty
 * shell), bare-conn (its two connections only), heap (warden heap snapshots).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { openIdleShells, type IdleShell, type IdleShellEndpoint } from '../../test/helpers/idle-shells.js';
import { sleep, waitUntil } from '../../test/helpers/processes.js';
import { startRedis } from '../../test/helpers/redis.js';
import { startSshd, type SshdHandle } from '../../test/helpers/sshd.js';
import { rssKiB } from '../proc-stats.js';
import { Teardown, wardenLogin } from '../setup.js';
import { median } from '../stats.js';
import { startBareRelay } from '../bare-relay.js';
import { startBenchWarden } from '../warden-process.js';
import { classSizes, growth, total } from './heap-classes.mjs';

const N = Number(process.argv[2] ?? 200);
const ONLY = process.argv[3]?.split(',');

interface Proc {
  pid: number;
  endpoint: IdleShellEndpoint;
  dir?: string;
  stop(): Promise<void>;
}

async function sampleRss(pid: number): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < 5; i++) {
    v.push(rssKiB(pid));
    await sleep(400);
  }
  return median(v);
}

async function warden(redisUrl: string, target: SshdHandle, extraYaml = '', nodeArgs: string[] = []): Promise<Proc> {
  const w = await startBenchWarden({ redisUrl, target, extraYaml, nodeArgs });
  return { pid: w.pid, dir: w.dir, endpoint: { port: w.port, username: wardenLogin('web1'), privateKey: readFileSync(w.aliceKey) }, stop: () => w.stop() };
}

async function bare(target: SshdHandle): Promise<Proc> {
  const relay = await startBareRelay(target);
  return { pid: relay.pid, endpoint: { port: relay.port, username: 'x', password: 'x' }, stop: () => relay.stop() };
}

async function open(p: Proc, n: number, shell: boolean): Promise<IdleShell[]> {
  const into: IdleShell[] = [];
  try {
    await openIdleShells(p.endpoint, n, into, { shell });
  } catch (err) {
    for (const s of into) s.close();
    throw err;
  }
  return into;
}

async function rssPerSession(name: string, p: Proc, shell: boolean): Promise<string> {
  for (const s of await open(p, 10, shell)) s.close();
  await sleep(3000);
  // Sampled 5 s after: V8 collects the logins' garbage later, at a time of its choosing, so these
  // deltas are noisy (idle-rss.ts forces a GC through the inspector before each sample).
  const settle = () => sleep(5000).then(() => sampleRss(p.pid));
  const before = await settle();
  const t0 = Date.now();
  const sessions = await open(p, N, shell);
  const openSec = (Date.now() - t0) / 1000;
  const after = await settle();
  // RSS while the sessions stay idle longer (SETTLE_S): garbage of the logins may be collected late.
  const later: string[] = [];
  for (let t = 0; t < Number(process.env.SETTLE_S ?? 0); t += 10) {
    await sleep(8000);
    later.push(`${t + 10} s: ${((await sampleRss(p.pid)) - before) / N | 0}`);
  }
  for (const s of sessions) s.close();
  return `${name.padEnd(14)} ${((after - before) / N).toFixed(1).padStart(7)} KiB/session  (VmRSS ${(before / 1024).toFixed(1)} -> ${(after / 1024).toFixed(1)} MiB, ${N} opened in ${openSec.toFixed(1)} s)${later.length ? `; later, KiB/session: ${later.join(', ')}` : ''}`;
}

async function snapshot(p: Proc): Promise<string> {
  const list = () => readdirSync(p.dir!).filter((f) => f.endsWith('.heapsnapshot'));
  const had = new Set(list());
  process.kill(p.pid, 'SIGUSR2');
  let file = '';
  let lastSize = -1;
  await waitUntil('heap snapshot written', async () => {
    file = list().find((f) => !had.has(f)) ?? '';
    if (!file) return false;
    const size = statSync(path.join(p.dir!, file)).size;
    const stable = size > 0 && size === lastSize;
    lastSize = size;
    if (!stable) await sleep(500);
    return stable;
  }, { timeoutMs: 120_000, intervalMs: 500 });
  return path.join(p.dir!, file);
}

async function heap(p: Proc): Promise<string[]> {
  for (const s of await open(p, 10, true)) s.close();
  await sleep(3000);
  const a = classSizes(await snapshot(p));
  const sessions = await open(p, N, true);
  await sleep(5000);
  const b = classSizes(await snapshot(p));
  for (const s of sessions) s.close();
  return [`JS heap (live objects): ${((total(b) - total(a)) / N / 1024).toFixed(1)} KiB/session; largest growth per session:`, ...growth(a, b, N, 45)];
}

const teardown = new Teardown();
try {
  const redis = await startRedis();
  teardown.push('redis', () => redis.stop());
  const target = await startSshd({ config: { MaxStartups: '400:30:500' } });
  teardown.push('sshd', () => target.stop());
  const variants: Array<[string, () => Promise<string[]>]> = [
    ['warden', async () => [await run(await warden(redis.url, target), 'warden', true)]],
    ['warden-norec', async () => [await run(await warden(redis.url, target, 'recording: { enabled: false }'), 'warden-norec', true)]],
    ['warden-conn', async () => [await run(await warden(redis.url, target), 'warden-conn', false)]],
    ['bare', async () => [await run(await bare(target), 'bare', true)]],
    ['bare-conn', async () => [await run(await bare(target), 'bare-conn', false)]],
    ['heap', async () => {
      const p = await warden(redis.url, target, '', ['--heapsnapshot-signal=SIGUSR2']);
      try {
        return await heap(p);
      } finally {
        await p.stop();
      }
    }],
  ];
  async function run(p: Proc, name: string, shell: boolean): Promise<string> {
    try {
      return await rssPerSession(name, p, shell);
    } finally {
      await p.stop();
    }
  }
  for (const [name, fn] of variants) {
    if (ONLY && !ONLY.includes(name)) continue;
    for (const line of await fn()) console.log(line);
    await sleep(2000);
  }
} finally {
  await teardown.run();
  setTimeout(() => process.exit(0), 1000).unref();
}
