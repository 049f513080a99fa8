/**
 * A recording that cannot be written is never silent (recording.onFailure): with `terminate`
 * the session is closed with a message and new logins are refused while the disk is full;
 * with `continue` the user is told once and the record says so. Both write an audit event.
 *
 * The full disk is a small tmpfs mounted over the recordings directory. Mounting needs root
 * (CAP_SYS_ADMIN); where that is not allowed the file is skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, makeTempDir, removeTempDir, waitUntil } from '../helpers/processes.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { runSsh } from '../helpers/ssh-client.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startWarden, type WardenHandle } from '../helpers/warden.js';
import { runCli } from '../helpers/warden-process.js';

function tryMount(dir: string): string | undefined {
  if (!isRoot) return 'not root';
  const res = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
  return res.status === 0 ? undefined : `mount failed: ${res.stderr.trim()}`;
}

const probeDir = makeTempDir('rec-probe-');
const cannotMount = tryMount(probeDir);
if (!cannotMount) spawnSync('umount', [probeDir]);
removeTempDir(probeDir);
if (cannotMount) console.warn(`recording-failure tests skipped: a tmpfs cannot be mounted here (${cannotMount})`);

let redis: RedisHandle;
let sshd: SshdHandle;

beforeAll(async () => {
  if (cannotMount) return;
  [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
});
afterAll(async () => {
  await Promise.all([sshd?.stop(), redis?.stop()]);
});

/** A Warden whose recordings live on a fresh 256 KiB tmpfs; `fill()` leaves it no free byte. */
async function wardenOnSmallDisk(onFailure: 'terminate' | 'continue') {
  const disk = makeTempDir('rec-disk-');
  const err = tryMount(disk);
  if (err) throw new Error(err);
  const warden = await startWarden({
    redisUrl: redis.url,
    sshd,
    extraYaml: `recording: { dir: ${disk}, onFailure: ${onFailure}, minFreeSpace: 128KiB }`,
  });
  return {
    warden,
    disk,
    fill: () => {
      const filler = path.join(disk, 'filler');
      // Write until ENOSPC: the tmpfs is then full to the last page.
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { encoding: 'utf8' });
    },
    free: () => rmSync(path.join(disk, 'filler'), { force: true }),
    stop: async () => {
      await warden.stop();
      spawnSync('umount', [disk]);
      removeTempDir(disk);
    },
  };
}

const audits = (w: WardenHandle, event: string) => w.logs().filter((l) => l.audit === true && l.event === event);

describe.skipIf(cannotMount !== undefined)('recording.onFailure', () => {
  it('terminate: the running session is told and closed as recording_failed, the next login is refused', async () => {
    const t = await wardenOnSmallDisk('terminate');
    try {
      const { warden } = t;
      // A command that keeps printing text (~1 KiB/s, so the recording soon needs a new page of
      // the full tmpfs): its recording is flushed at least every second.
      const running = runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: "for i in $(seq 1 150); do printf 'tick-%s %0100d\\n' $i 0; sleep 0.1; done", timeoutMs: 30_000 });
      // Fill the disk once the recording is under way (output has flowed), not before it starts.
      await waitUntil('output flowing', async () => ((await warden.instance.registry.listLive())[0]?.bytesOut ?? 0) > 40);
      t.fill();
      const res = await running;
      expect(res.stderr).toContain('Warden: this session cannot be recorded (no space left on device) and is being closed.');
      expect(res.code).toBe(255);
      expect(res.stdout.toString()).not.toContain('tick-150 ');
      let ended: string | undefined;
      await waitUntil('record final', async () => {
        ended = (await warden.instance.registry.listRecent(5))[0]?.reason;
        return ended !== undefined;
      });
      expect(ended).toBe('recording_failed');
      // What was written before the disk filled verifies as an intact prefix, not as tampering.
      const id = (await warden.instance.registry.listRecent(5))[0]!.id;
      const verify = await runCli(['verify', id, '--config', warden.configFile]);
      expect(verify.stderr).toBe("");
      expect(verify.stdout).toMatch(/^channel 1: INCOMPLETE: .*intact.*no space left on device/);
      expect(verify.code).toBe(3);

      const refused = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo should-not-run' });
      expect(refused.stdout.toString()).not.toContain('should-not-run');
      expect(refused.stderr).toContain('cannot be recorded (no space left on device)');
      expect(audits(warden, 'recording_failed').map((e) => e.policy)).toContain('terminate');
      expect(audits(warden, 'recording_unwritable')).toHaveLength(1);

      // Space again: the next probe lets logins in, and says so once.
      t.free();
      await waitUntil('logins allowed again', async () => {
        const ok = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'echo back-$((1+1))' });
        return ok.stdout.toString() === 'back-2\n';
      }, { timeoutMs: 20_000, intervalMs: 1_000 });
      expect(audits(warden, 'recording_writable')).toHaveLength(1);
    } finally {
      await t.stop();
    }
  }, 60_000);

  it('continue: the session runs, the user is told once, the record says recording failed', async () => {
    const t = await wardenOnSmallDisk('continue');
    try {
      const { warden } = t;
      t.fill();
      // The command outlives the recorder's first write (which fails at once on the full disk):
      // a command that ends first can end before the notice reaches the user (README).
      const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'sleep 1; echo still-runs-$((2+3))' });
      expect(res.stdout.toString()).toBe('still-runs-5\n');
      expect(res.code).toBe(0);
      expect(res.stderr.match(/can no longer be recorded \(no space left on device\)/g)).toHaveLength(1);
      let rec: Awaited<ReturnType<typeof warden.instance.registry.get>>;
      await waitUntil('record final', async () => {
        rec = (await warden.instance.registry.listRecent(5))[0];
        return rec?.state === 'finished';
      });
      expect(rec!).toMatchObject({ reason: 'client_closed', recording: 'failed', recordingError: 'no space left on device' });
      expect(rec!.channels[0]!.recordingError).toBe('no space left on device');
      expect(audits(warden, 'recording_failed').map((e) => e.policy)).toEqual(['continue']);
    } finally {
      await t.stop();
    }
  }, 60_000);

  it('warns in the log and the audit log when free space falls below minFreeSpace', async () => {
    const t = await wardenOnSmallDisk('continue');
    try {
      const { warden } = t;
      writeFileSync(path.join(t.disk, 'big'), Buffer.alloc(160 * 1024));
      const res = await runSsh({ port: warden.port, login: 'alice@target@web1', identity: warden.aliceKey, command: 'true' });
      expect(res.code).toBe(0);
      await waitUntil('low-space warning', async () => audits(warden, 'recording_space_low').length === 1);
    } finally {
      await t.stop();
    }
  }, 30_000);
});
