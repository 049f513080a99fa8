/**
 * Many idle sessions on one Warden process (issue 12 part 5, at a size that runs quickly; the
 * benchmark's idle-rss row does 1000): every pty shell opened at bounded concurrency opens
 * without an error, `warden sessions` lists exactly as many live sessions as there are
 * established TCP connections to Warden's port, and once the clients close every one of their
 * records is final (out of the live set, finished, with its end reason). No timings.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/session-record.js';
import { establishedTo, openIdleShells, type IdleShell } from '../helpers/idle-shells.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { runCli, spawnWarden, type WardenProcess } from '../helpers/warden-process.js';

const SESSIONS = 100;

let redis: RedisHandle;
let sshd: SshdHandle;
let warden: WardenProcess;

beforeAll(async () => {
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  warden = await spawnWarden({ redisUrl: redis.url, sshd });
}, 60_000);

afterAll(async () => {
  await warden?.stop();
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

async function sessions(all = false): Promise<{ live: SessionRecord[]; recent: SessionRecord[] }> {
  const r = await runCli(['sessions', '--json', '--config', warden.configFile, ...(all ? ['--all', '--limit', String(SESSIONS * 2)] : [])]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { live: SessionRecord[]; recent: SessionRecord[] };
}

describe(`${SESSIONS} idle sessions on one instance`, () => {
  it('all open; `warden sessions` equals the TCP connections; after close every record is final', async () => {
    const open: IdleShell[] = [];
    try {
      const endpoint = { port: warden.port, username: 'alice@target@web1', privateKey: readFileSync(warden.aliceKey) };
      await openIdleShells(endpoint, SESSIONS, open, { sources: 2, perSource: 4 });
      expect(open).toHaveLength(SESSIONS);

      // Each session writes its record without waiting for it (off the login path): let them land.
      let live: SessionRecord[] = [];
      await waitUntil('every session in the registry as proxying', async () => {
        live = (await sessions()).live;
        return live.filter((r) => r.state === 'proxying').length >= SESSIONS;
      }, { timeoutMs: 60_000, intervalMs: 1000 });
      expect(live).toHaveLength(SESSIONS);
      expect(establishedTo(warden.port)).toBe(SESSIONS);
      expect(live.every((r) => r.kind === 'shell' && r.channelCount === 1)).toBe(true);

      const ids = live.map((r) => r.id);
      for (const s of open.splice(0)) s.close();
      await waitUntil('no session live', async () => (await sessions()).live.length === 0, { timeoutMs: 120_000, intervalMs: 1000 });
      await waitUntil('no TCP connection left', async () => establishedTo(warden.port) === 0, { timeoutMs: 30_000, intervalMs: 250 });
      const recent = new Map((await sessions(true)).recent.map((r) => [r.id, r]));
      const notFinal = ids.filter((id) => {
        const r = recent.get(id);
        return !(r && r.state === 'finished' && r.reason === 'client_closed' && r.finish !== undefined);
      });
      expect(notFinal).toEqual([]);
    } finally {
      for (const s of open) s.close();
    }
  });
});
