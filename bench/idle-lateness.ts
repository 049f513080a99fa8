/**
 * Idle-disconnect lateness, observed at the user's end: real OpenSSH clients (`ssh -tt`, a
 * login shell) on an asset whose grant sets a 3 s idle timeout with a 1 s warning (the knob
 * this row is about; everything else is the shipped defaults). Each client waits for the
 * shell's prompt, types one key, and then nothing: lateness is the time from that key to the
 * client seeing Warden's "Disconnected after 3s idle" (and to the client's exit), minus 3 s.
 * Nothing is read from Warden's own timestamps; the key's trip to Warden is part of the figure.
 *
 * Sessions arrive at a steady 10 per second, as users log in; the first few are a warm-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { sleep, trackChild } from '../test/helpers/processes.js';
import { BASE_OPTIONS } from '../test/helpers/ssh-client.js';
import { wardenLogin } from './setup.js';
import { fmtTail, MIN_N_FOR_P99, tailLabel, tailValue } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result } from './types.js';
import { startBenchWarden, type BenchWarden } from './warden-process.js';

const TIMEOUT_MS = 3_000;
const MESSAGE = 'Disconnected after';
const SETTLE_AFTER_PROMPT_MS = 200;
const ADMISSION = 'auth: { maxStartups: "500:30:1000", perSourceMaxStartups: 500 }';

interface Observed {
  /** Key sent → message seen, minus the timeout. */
  message: number;
  /** Key sent → client exited, minus the timeout. */
  exit: number;
}

function oneSession(w: BenchWarden, signal: AbortSignal): Promise<Observed> {
  const child: ChildProcess = spawn(
    'ssh',
    [...BASE_OPTIONS, '-tt', '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', wardenLogin('idle1'), '127.0.0.1'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  trackChild(child);
  child.stdin!.on('error', () => undefined);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString('latin1')).slice(-400);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let keyAt: number | undefined;
    let toldAt: number | undefined;
    const kill = () => child.kill('SIGKILL');
    const guard = setTimeout(kill, 60_000);
    signal.addEventListener('abort', kill, { once: true });
    child.stdout!.on('data', (d: Buffer) => {
      const first = out.length === 0;
      out += d.toString('latin1');
      if (first) {
        // The prompt is there: let the rest of it arrive, then type one key.
        setTimeout(() => {
          keyAt = performance.now();
          child.stdin!.write(' ');
        }, SETTLE_AFTER_PROMPT_MS);
      }
      if (toldAt === undefined && out.includes(MESSAGE)) toldAt = performance.now();
    });
    let exitAt = NaN;
    child.once('exit', () => {
      exitAt = performance.now();
    });
    // Judged on 'close', when stdout and stderr have been read to their end: at 'exit' the
    // message may still be in the pipe (one session of 200 was "without" it under load).
    child.once('close', (code) => {
      clearTimeout(guard);
      signal.removeEventListener('abort', kill);
      if (keyAt === undefined || toldAt === undefined) {
        reject(new Error(`idle session ended (exit ${code}) ${keyAt === undefined ? 'before the key was typed' : `without "${MESSAGE}"`}; output: ${JSON.stringify(out.slice(-200))}; stderr: ${JSON.stringify(err.slice(-200))}`));
        return;
      }
      resolve({ message: toldAt - keyAt - TIMEOUT_MS, exit: exitAt - keyAt - TIMEOUT_MS });
    });
  });
}

export const idleLateness: Measurement = {
  name: 'idle-lateness',
  title: 'Idle-disconnect lateness at the client',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    // Every client comes from 127.0.0.1: the shipped per-source admission limit (5 logins in
    // progress per address) would refuse part of the 10 logins per second, which measures the
    // load generator, not idle lateness. Only this knob is raised, and the note says so.
    const w = await startBenchWarden({ redisUrl: env.redis.url, target: env.target, idleGrant: '{ idleTimeout: 3s, idleWarning: 1s }', extraYaml: ADMISSION });
    const measured = ctx.quick ? 30 : MIN_N_FOR_P99;
    const warm = ctx.quick ? 3 : 10;
    try {
      // Settled as they end (a rejection must not wait unhandled while later sessions open).
      const sessions: Promise<Observed | Error>[] = [];
      for (let i = 0; i < warm + measured; i++) {
        checkAborted(ctx.signal);
        sessions.push(oneSession(w, ctx.signal).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
        await sleep(100);
      }
      const all = (await Promise.all(sessions)).slice(warm);
      const failures = all.filter((o): o is Error => o instanceof Error);
      const ended = all.filter((o): o is Observed => !(o instanceof Error));
      // Disconnected less than the timeout after the key: the key did not reset the idle clock
      // (it reached Warden after a deadline set by the quiet spell before it, e.g. a prompt
      // that took seconds under load). Such a session says nothing about lateness; count it.
      const early = ended.filter((o) => o.message < 0);
      const counted = ended.filter((o) => o.message >= 0);
      if (counted.length === 0) throw failures[0] ?? new Error('no idle session measured');
      const message = counted.map((o) => o.message);
      const exit = counted.map((o) => o.exit);
      return {
        rows: [
          {
            metric: `idle disconnect lateness: key → message at the client − 3 s (${tailLabel(message)}, n=${message.length}${failures.length ? `; ${failures.length} ended WITHOUT the message` : ''}${early.length ? `; ${early.length} ended < 3 s after the key` : ''})`,
            warden: fmtTail(message),
            target: `p99 ≤ 1 s${message.length < MIN_N_FOR_P99 ? ' (not judged: n < 200)' : ''}`,
            // A session that never showed the user why it ended is a failure, whatever the times.
            ok: failures.length > 0 ? false : message.length >= MIN_N_FOR_P99 ? tailValue(message) <= 1_000 : undefined,
          },
          {
            metric: `idle disconnect lateness: key → ssh client exit − 3 s (${tailLabel(exit)}, n=${exit.length})`,
            warden: fmtTail(exit),
            target: '(reported)',
          },
        ],
        notes: [
          `${warm} warm-up + ${measured} sessions opened at 10 per second, each a real \`ssh -tt\` login shell on an asset with idleTimeout 3s, idleWarning 1s and admission raised to \`${ADMISSION}\` (one source address for every client; shipped defaults otherwise); each types one key ${SETTLE_AFTER_PROMPT_MS} ms after its prompt and then nothing.`,
          ...failures.slice(0, 3).map((f) => `not measured: ${f.message}`),
          `${early.length} session(s) ended less than 3 s after their key (key not counted as activity: it arrived after the deadline of the quiet spell before it); left out of the figures.`,
          `message: min ${Math.min(...message).toFixed(1)} ms, max ${Math.max(...message).toFixed(1)} ms; exit: min ${Math.min(...exit).toFixed(1)} ms, max ${Math.max(...exit).toFixed(1)} ms.`,
        ],
      };
    } finally {
      await w.stop();
    }
  },
};
