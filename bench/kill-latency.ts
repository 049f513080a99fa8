/**
 * Kill latency, observed at the user's end: 90–100 live sessions (real OpenSSH clients running
 * `sleep`) across two Warden processes with the shipped defaults; each kill is issued against
 * the instance that does NOT own the session, so it crosses instances through Redis. Timed
 * from the start of the kill to (a) the moment the user's ssh client prints Warden's message
 * on its stderr and (b) the exit of that client process — not from Warden's own timestamps.
 *
 * Two ways to kill, alternating so both see the same conditions, n >= 200 each in a full run
 * (a p99 from fewer samples is the max in disguise): the warm admin API (ControlClient in this
 * process, as the HTTP API calls it) and the `warden kill` CLI, a new Node.js process per kill
 * as an admin types it (`bin/warden kill ID --config FILE`, the launcher package.json's "bin"
 * links: the CLI bundle's cold start, the Redis connection, the same control path), started
 * from a shell (command-shell.ts) as an admin's shell starts it.
 *
 * Each kill is timed with the fleet at rest: refilled sessions have their shells running, and
 * the previous kill's session is finalised, so a kill does not compete with the bench's own
 * logins or with the aftermath of the kill before it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { ControlClient } from '../src/control-client.js';
import { RedisKeys } from '../src/redis-keys.js';
import { Registry } from '../src/registry.js';
import type { SessionRecord } from '../src/session-record.js';
import { trackChild, waitUntil } from '../test/helpers/processes.js';
import { REPO_ROOT, uniquePrefix } from '../test/helpers/redis.js';
import { BASE_OPTIONS } from '../test/helpers/ssh-client.js';
import { fmtTail, MIN_N_FOR_P99, tailLabel, tailValue } from './stats.js';
import { CommandShell } from './command-shell.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';
import { startBenchWarden, type BenchWarden } from './warden-process.js';

interface Live {
  marker: string;
  child: ChildProcess;
  /** Resolves when the target's shell printed the marker: the session is up end to end. */
  up: Promise<void>;
  /** When the client's stderr carried "Terminated by admin". */
  toldAt: Promise<number>;
  exitedAt: Promise<number>;
}

const MESSAGE = 'Terminated by admin';
const LIVE = 100;
const REFILL = 10;

/** Whether a live record is the session started with `marker` (in its command line). */
const mentions = (r: SessionRecord, marker: string): boolean =>
  r.command?.includes(marker) === true || r.channels.some((c) => c.command?.includes(marker));

let counter = 0;
function openSession(w: BenchWarden): Live {
  const marker = `kl${++counter}x`;
  const child = spawn(
    'ssh',
    [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', 'alice@target@web1', '127.0.0.1', `echo ${marker}; exec sleep 600`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackChild(child);
  let out = '';
  const up = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes(marker)) resolve();
    });
    // 'close', not 'exit': the process can exit before its last output has been read.
    child.once('close', () => reject(new Error(`session ${marker} ended before its shell printed the marker`)));
  });
  up.catch(() => {});
  let err = '';
  const toldAt = new Promise<number>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      if (err.includes(MESSAGE)) resolve(performance.now());
    });
    child.once('close', () => resolve(NaN)); // stderr read to its end without the message: NaN fails the check below
  });
  return { marker, child, up, toldAt, exitedAt: new Promise((resolve) => child.once('exit', () => resolve(performance.now()))) };
}

/**
 * The environment without NODE_EXTRA_CA_CERTS. Some machines (this VM among them) set it for
 * every process, and Node then reads and parses that CA bundle at every start (~45 ms here).
 * bin/warden hands it to the CLI under another name, so that Node does not; the CLI is timed
 * both ways, and the two should match.
 */
function envWithoutExtraCas(): NodeJS.ProcessEnv | undefined {
  if (!process.env.NODE_EXTRA_CA_CERTS) return undefined;
  const { NODE_EXTRA_CA_CERTS: _, ...rest } = process.env;
  return rest;
}

/**
 * A shell to run `warden ARGS` from as an admin types it (bin/warden, the launcher
 * package.json's "bin" links), with the `node` first on PATH.
 */
function adminShell(env: NodeJS.ProcessEnv = process.env): CommandShell {
  return new CommandShell({ ...env, PATH: `${path.dirname(process.execPath)}:${env.PATH ?? ''}` });
}

export const killLatency: Measurement = {
  name: 'kill-latency',
  title: 'Kill latency at the client (90–100 live sessions on two instances)',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const redisPrefix = uniquePrefix();
    const common = { redisUrl: env.redis.url, target: env.target, redisPrefix };
    const [a, b] = await Promise.all([startBenchWarden({ ...common, instanceId: 'bench-a' }), startBenchWarden({ ...common, instanceId: 'bench-b' })]);
    const redis = new Redis(env.redis.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const registry = new Registry(redis, new RedisKeys(redisPrefix), { retentionMs: 3_600_000, historyMax: 10_000 });
    const api = new ControlClient(redis, registry, registry.keys);
    const live = new Map<string, Live>();
    const plainEnv = envWithoutExtraCas();
    const shell = adminShell();
    const plainShell = plainEnv && adminShell(plainEnv);
    // Both ways alternate, one kill each per round, so both see the same load.
    const kills = ctx.quick ? 30 : 200;
    const warm = 10;
    try {
      // REFILL connections at a time: a burst of 100 unauthenticated connections from one
      // source meets Warden's MaxStartups early drop (as it would OpenSSH's).
      const fill = async () => {
        while (live.size < LIVE) {
          const opened = Array.from({ length: Math.min(REFILL, LIVE - live.size) }, (_, i) => openSession(i % 2 ? a : b));
          for (const s of opened) live.set(s.marker, s);
          await waitUntil('sessions registered', async () => {
            const recs = await registry.listLive();
            return opened.every((s) => recs.some((r) => mentions(r, s.marker)));
          }, { timeoutMs: 120_000, intervalMs: 100 });
          // A registered session may still be starting its shell on the target; a kill timed
          // meanwhile would measure the bench's own logins competing for the CPU.
          await Promise.all(opened.map((s) => s.up));
        }
      };
      const pick = async () => {
        if (live.size <= LIVE - REFILL) await fill();
        const recs = await registry.listLive();
        const rec = recs.find((r) => [...live.keys()].some((m) => mentions(r, m)));
        if (!rec) throw new Error('no live record matches an open session');
        const marker = [...live.keys()].find((m) => mentions(rec, m))!;
        const s = live.get(marker)!;
        live.delete(marker);
        return { rec, s, via: rec.instance === 'bench-a' ? b : a };
      };
      const at = async (s: Live, t0: number, id: string) => {
        const [told, exited] = [(await s.toldAt) - t0, (await s.exitedAt) - t0];
        if (!Number.isFinite(told)) throw new Error(`the killed client exited without "${MESSAGE}" on its stderr`);
        // Untimed: the next kill starts once Warden has finalised this one (record, recording,
        // audit jobs), so it is not timed against the aftermath of the previous kill.
        await waitUntil('killed session finalised', async () => (await registry.get(id))?.state === 'finished', { timeoutMs: 30_000, intervalMs: 20 });
        return { told, exited };
      };

      const apiTold: number[] = [];
      const apiExit: number[] = [];
      const ack: number[] = [];
      const cliExit: number[] = [];
      const cliTold: number[] = [];
      const cliDone: number[] = [];
      const cliPlainExit: number[] = [];
      const cliKill = async (from: CommandShell) => {
        const { rec, s, via } = await pick();
        const t0 = performance.now();
        const run = await from.run([path.join(REPO_ROOT, 'bin/warden'), 'kill', rec.id, '--by', 'bench', '--config', via.configFile]);
        if (run.code !== 0) throw new Error(`warden kill exited ${run.code}`);
        return { ...(await at(s, t0, rec.id)), done: run.exitedAt - t0 };
      };
      for (let i = 0; i < kills + warm; i++) {
        checkAborted(ctx.signal);
        const counted = i >= warm;
        const viaCli = await cliKill(shell);
        if (counted) {
          cliExit.push(viaCli.exited);
          cliTold.push(viaCli.told);
          cliDone.push(viaCli.done);
        }
        if (plainShell) {
          const plain = await cliKill(plainShell);
          if (counted) cliPlainExit.push(plain.exited);
        }
        const { rec, s } = await pick();
        const t0 = performance.now();
        const report = await api.kill(rec.id, { by: 'bench', timeoutMs: 10_000 });
        if (report.outcome !== 'killed') throw new Error(`kill: ${report.outcome}`);
        const r = await at(s, t0, rec.id);
        if (counted) {
          ack.push(report.totalMs);
          apiTold.push(r.told);
          apiExit.push(r.exited);
        }
        if (i % 25 === 24) ctx.progress(`kill latency: ${i + 1}/${kills + warm} rounds (one API kill and ${plainEnv ? 'two CLI kills' : 'one CLI kill'} each)`);
      }
      const row = (label: string, v: number[], targetMs?: number) => ({
        metric: `kill: ${label} (${tailLabel(v)}, n=${v.length})`,
        warden: fmtTail(v),
        target: targetMs === undefined ? '(reported)' : `p99 ≤ ${targetMs} ms${v.length < MIN_N_FOR_P99 ? ' (not judged: n < 200)' : ''}`,
        // A p99 is judged only when there are enough samples for one.
        ok: targetMs !== undefined && v.length >= MIN_N_FOR_P99 ? tailValue(v) <= targetMs : undefined,
      });
      return {
        rows: [
          row('admin API (warm) → ssh client prints the message', apiTold),
          row('admin API (warm) → ssh client exits', apiExit, 100),
          row('admin API acknowledgement', ack),
          row('`warden kill` CLI start → ssh client exits', cliExit, 300),
          ...(plainEnv ? [row('`warden kill` CLI start → ssh client exits, without the NODE_EXTRA_CA_CERTS this machine sets', cliPlainExit)] : []),
        ],
        notes: [
          `${kills} rounds after ${warm} warm-up rounds, each one \`warden kill\` CLI kill${plainEnv ? ' (two: with the environment as given, and without the NODE_EXTRA_CA_CERTS that bin/warden hands over instead of letting Node parse it at start)' : ''} and one admin API kill; ${LIVE - REFILL}–${LIVE} live sessions (half on each instance, refilled ${REFILL} at a time), each kill sent through the other instance.`,
          `CLI start → message printed: ${fmtTail(cliTold)}; CLI start → CLI process exits: ${fmtTail(cliDone)}. The CLI is started from a long-lived /bin/sh, as an admin's shell starts it (not forked from this benchmark's own large process). The CLI figures include starting Node.js, loading the CLI bundle (the config's Redis part, ioredis) and connecting to Redis; the API figures are the control path itself: registry lookup, the owner's kill channel, the session ends, the user is told, the client exits.`,
          'Percentiles: p99 only where n >= 200; smaller samples give the max instead.',
        ],
      };
    } finally {
      for (const s of live.values()) s.child.kill();
      shell.close();
      plainShell?.close();
      await api.close();
      redis.disconnect();
      await Promise.all([a.stop(), b.stop()]);
    }
  },
};
