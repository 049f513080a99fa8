/**
 * Stops that always end: `warden start` as its own process, stopped by Ctrl-C (SIGINT to the
 * whole process group, as a terminal sends it) with the embedded Redis of the quickstart, and
 * by SIGTERM while its external Redis is down. Every file under dataDir stays private.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/registry.js';
import { freePort, trackChild, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { BASE_OPTIONS } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';
import { widerThanPrivate } from '../../src/private-files.js';

let sshd: SshdHandle;
let redis: RedisHandle | undefined;

beforeAll(async () => {
  sshd = await startSshd();
}, 60_000);

afterAll(async () => {
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

/** A streaming exec session through `w`; resolves once output flows. */
async function liveSession(w: WardenProcess): Promise<{ exited: Promise<number | null>; err: () => string }> {
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', 'while :; do echo tick; sleep 0.2; done']);
  trackChild(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out = (out + d).slice(-100)));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitUntil('session streaming', async () => out.includes('tick'));
  return { exited, err: () => err };
}

async function sessions(w: WardenProcess): Promise<{ live: SessionRecord[]; recent: SessionRecord[] }> {
  const res = await runCli(['sessions', '--all', '--json', '--config', w.configFile]);
  if (res.code !== 0) throw new Error(`warden sessions: ${res.stderr}`);
  return JSON.parse(res.stdout) as { live: SessionRecord[]; recent: SessionRecord[] };
}

const logLines = (w: WardenProcess) => w.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

/** Wait for the process to exit; fail (and kill it) if it has not after `ms`. */
async function exitsWithin(w: WardenProcess, ms: number): Promise<number> {
  const started = Date.now();
  const done = await Promise.race([w.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), ms))]);
  if (!done) {
    await w.kill9();
    throw new Error(`warden did not exit within ${ms} ms of the signal\n${w.log().split('\n').slice(-15).join('\n')}`);
  }
  return Date.now() - started;
}

/** Stop the restarted Warden (it must exit in time) and make sure the first one is gone. */
async function cleanUp(first: WardenProcess, again: WardenProcess | undefined): Promise<void> {
  if (again) {
    again.child.kill('SIGTERM');
    await exitsWithin(again, 15_000);
  }
  if (first.child.exitCode === null) await first.kill9();
}

describe('Ctrl-C of a Warden started like the quickstart (embedded Redis)', () => {
  it('reaches Warden only: it finalises the session, stops its redis-server and exits; nothing under dataDir is readable by others', async () => {
    const port = await freePort();
    const w = await spawnWarden({ sshd, port, detached: true, umask: '022' });
    let again: WardenProcess | undefined;
    try {
      const session = await liveSession(w);
      const id = (await sessions(w)).live[0]!.id;
      const redisPid = Number(logLines(w).find((l) => l.msg === 'embedded redis-server started')?.redisPid);
      expect(redisPid).toBeGreaterThan(0);

      process.kill(-w.child.pid!, 'SIGINT'); // the terminal's Ctrl-C: the whole process group
      const tookMs = await exitsWithin(w, 15_000);
      expect(await session.exited).toBe(255);
      expect(session.err()).toContain('Warden is shutting down');
      // Warden stopped its redis-server itself, after writing the final record directly.
      expect(existsSync(`/proc/${redisPid}`), `redis-server ${redisPid} still running`).toBe(false);
      expect(logLines(w).some((l) => /saved to the journal/.test(String(l.msg))), `took ${tookMs} ms`).toBe(false);

      const dataDir = path.join(path.dirname(w.configFile), 'data');
      const wide = widerThanPrivate(dataDir);
      expect(wide.paths, 'group/other bits under dataDir').toEqual([]);
      expect(wide.scanned).toBeGreaterThan(5); // the AOF, recordings, chains, audit log, commands...

      // A file left readable (an older version, a manual copy): the next start says so.
      chmodSync(path.join(dataDir, 'audit.jsonl'), 0o644);
      again = await w.again();
      const rec = (await sessions(again)).recent.find((r) => r.id === id);
      expect(rec).toMatchObject({ state: 'finished', reason: 'shutdown' });
      const warning = logLines(again).find((l) => /readable by group or others/.test(String(l.msg)));
      expect(warning?.paths).toEqual([path.join(dataDir, 'audit.jsonl')]);
    } finally {
      await cleanUp(w, again);
    }
  }, 90_000);
});

describe('SIGTERM while the external Redis is down', () => {
  it('exits within the shutdown bound, journals the final record (0600) and writes it at the next start with its real finish time', async () => {
    redis = await startRedis();
    const port = await freePort();
    // A configured instance id: the restart reaps what its previous process left, which must
    // not pre-empt the journal's own final record.
    const w = await spawnWarden({ sshd, port, redisUrl: redis.url, instanceId: 'journal-test' });
    let again: WardenProcess | undefined;
    try {
      const session = await liveSession(w);
      const id = (await sessions(w)).live[0]!.id;
      await redis.kill9();
      const signalledAt = Date.now();
      w.child.kill('SIGTERM');
      await exitsWithin(w, 15_000);
      expect(await session.exited).toBe(255);

      const journal = path.join(path.dirname(w.configFile), 'data', 'journal.jsonl');
      expect(existsSync(journal), 'journal written').toBe(true);
      expect(statSync(journal).mode & 0o777).toBe(0o600);
      const saved = readFileSync(journal, 'utf8');
      expect(saved).toContain(id);

      await redis.restart();
      again = await w.again();
      await waitUntil('journal replayed', async () => logLines(again!).some((l) => l.msg === 'journal written to redis'), { timeoutMs: 15_000 });
      const loaded = logLines(again).find((l) => l.msg === 'journal of the previous run loaded');
      expect(loaded?.entries).toBeGreaterThanOrEqual(1);
      const rec = (await sessions(again)).recent.find((r) => r.id === id);
      expect(rec).toMatchObject({ state: 'finished', reason: 'shutdown' });
      expect(rec!.finish!).toBeGreaterThanOrEqual(signalledAt);
      expect(rec!.finish!, 'finish is when the session ended, not the replay').toBeLessThan(signalledAt + 10_000);
      expect(existsSync(journal), 'journal removed once written').toBe(false);
    } finally {
      await cleanUp(w, again);
    }
  }, 90_000);
});
