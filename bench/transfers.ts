/**
 * One bulk transfer with the real OpenSSH client, of one of five kinds:
 *
 *   text-exec   `cat` of the text file through an exec channel (no terminal): recorded
 *   text-pty    a login shell with a terminal (`ssh -tt`) in which `cat` of the text file is
 *               typed: recorded, and the command tracker sees the typed line
 *   binary-down NUL bytes from an exec channel: NOT recorded (Warden leaves binary output of a
 *               channel without a terminal out of the recording by design, with a marker)
 *   text-up     the text file fed to `wc -c`: input, not recorded (recording.input is off by
 *               default)
 *   binary-up   NUL bytes fed to `wc -c`: input, not recorded
 *
 * Timed from the first byte of the payload to the client's exit, so connection setup (measured
 * on its own in setup-time) does not dilute the ratio; the wall time with setup is kept too.
 * Every transfer checks that all bytes arrived.
 */
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sleep } from '../test/helpers/processes.js';
import type { CryptoSet } from './crypto.js';
import { exited, spawnSsh } from './openssh.js';
import { busyFraction, cpuSnapshot, processCpuSeconds, startLoadMeter, treeCpuSeconds, type CpuSnapshot } from './proc-stats.js';
import type { BenchPath } from './setup.js';
import type { TextFile } from './text-file.js';

export type KindName = 'text-exec' | 'text-pty' | 'binary-down' | 'text-up' | 'binary-up';

export interface Kind {
  name: KindName;
  /**
   * 'full': the rows issue 12 names at the full transfer size (`--mib`, default 512): text and
   * binary down, binary up. 'working': every other transfer, at most WORKING_BYTES, so that a
   * complete run stays under an hour.
   */
  size: 'full' | 'working';
  /** Row label, e.g. "down, text, exec". */
  label: string;
  /** What the recorder does with these bytes (the table's "recorded?" column). */
  recorded: string;
}

export const KINDS: Record<KindName, Kind> = {
  'text-exec': { name: 'text-exec', size: 'full', label: 'down · text · exec `cat`', recorded: 'yes' },
  'text-pty': { name: 'text-pty', size: 'working', label: 'down · text · pty shell `cat`', recorded: 'yes' },
  'binary-down': { name: 'binary-down', size: 'full', label: 'down · binary (NUL bytes) · exec, deliberately not recorded', recorded: 'no (binary exec output, by design)' },
  'text-up': { name: 'text-up', size: 'working', label: 'up · text · exec `wc -c`', recorded: 'no (input; recording.input off by default)' },
  'binary-up': { name: 'binary-up', size: 'full', label: 'up · binary · exec `wc -c`', recorded: 'no (input)' },
};

export interface Sample {
  /** First payload byte to the client's exit. */
  seconds: number;
  /** Spawn to exit, setup included. */
  wall: number;
  /** CPU seconds Warden's process used during the transfer (its path only). */
  wardenCpu: number;
  /** Share of all cores busy during the transfer. */
  busy: number;
  /** Share of all cores used by processes that are not ours (other people's load). */
  foreign: number;
  /** CPU seconds used by all of the benchmark's processes (clients, sshd, Warden, this one). */
  ownCpu: number;
}

type Meters = Pick<Sample, 'wardenCpu' | 'busy' | 'foreign' | 'ownCpu'>;
const NO_METERS: Meters = { wardenCpu: NaN, busy: NaN, foreign: NaN, ownCpu: NaN };

const TIMEOUT_MS = 300_000;

export interface TransferContext {
  signal: AbortSignal;
  text: TextFile;
  /** Warden's pid, for its CPU (NaN on other paths is fine: nothing is attributed). */
  wardenPid: number;
}

/**
 * Start the meters; the returned function stops them. Our process tree's CPU is read 300 ms
 * after the end, once the session's processes have been reaped (a process reaped during the
 * /proc scan would drop out of the sum), minus what Warden did meanwhile (it starts
 * finalizing the recording as soon as the session ends).
 */
function startMeters(wardenPid: number): () => Promise<Meters> {
  const cpu0: CpuSnapshot = cpuSnapshot();
  const load = startLoadMeter();
  const own0 = treeCpuSeconds();
  const w0 = processCpuSeconds(wardenPid);
  return async () => {
    const w1 = processCpuSeconds(wardenPid);
    const partial = { busy: busyFraction(cpu0, cpuSnapshot()), foreign: load.foreign(), wardenCpu: w1 - w0 };
    await sleep(300);
    return { ...partial, ownCpu: treeCpuSeconds() - own0 - (processCpuSeconds(wardenPid) - w1) };
  };
}

/** The size of every transfer but the full-size rows: 128 MiB, or the text file if smaller. */
export function workingBytes(text: TextFile): number {
  return Math.min(text.bytes, 128 * 1048576);
}

/** Bytes a transfer of `kind` moves in a measured repetition. */
export function kindBytes(text: TextFile, kind: KindName): number {
  return KINDS[kind].size === 'full' ? text.bytes : workingBytes(text);
}

/** The remote command that prints the first `bytes` of the text file. */
export function catText(text: TextFile, bytes: number): string {
  return bytes === text.bytes ? `cat ${text.path}` : `head -c ${bytes} ${text.path}`;
}

/**
 * Download: counts stdout after `marker` (undefined: from the first byte). Resolves with the
 * sample once the client exits; `expect(got)` says whether the byte count is right.
 */
async function download(
  t: TransferContext,
  p: BenchPath,
  crypto: CryptoSet,
  spec: { command: string | undefined; tty: boolean; typed?: string; marker?: string; expect: (got: number) => boolean; what: string },
): Promise<Sample> {
  const t0 = performance.now();
  const child = spawnSsh(p.ssh(spec.command, { crypto, tty: spec.tty }), spec.typed ? 'pipe' : 'ignore');
  const done = exited(child, TIMEOUT_MS, t.signal);
  let first: number | undefined;
  let stop: (() => Promise<Meters>) | undefined;
  let got = 0;
  let head = '';
  const begin = () => {
    first = performance.now();
    stop = startMeters(t.wardenPid);
  };
  child.stdout!.on('data', (d: Buffer) => {
    if (first !== undefined) {
      got += d.length;
      return;
    }
    if (spec.marker === undefined) {
      begin();
      got += d.length;
      return;
    }
    // The marker may straddle chunks; latin1 keeps string offsets equal to byte offsets.
    head += d.toString('latin1');
    const at = head.indexOf(spec.marker);
    if (at === -1) {
      if (head.length > 1 << 20) head = head.slice(-spec.marker.length);
      return;
    }
    begin();
    got += head.length - (at + spec.marker.length);
    head = '';
  });
  // Typed as a user would (the shell reads it when it is ready); stdin stays open, as a
  // terminal's does, until the shell exits by itself.
  if (spec.typed) child.stdin!.write(spec.typed);
  const res = await done;
  const end = performance.now();
  const meters = (await stop?.()) ?? NO_METERS;
  if (res.code !== 0 || first === undefined || !spec.expect(got)) {
    throw new Error(`${p.name} ${spec.what}: exit ${res.code ?? res.signal}, ${got} bytes${first === undefined ? ' (no start marker)' : ''}; stderr: ${res.stderr.trim().slice(0, 300)}`);
  }
  return { seconds: (end - first) / 1000, wall: (end - t0) / 1000, ...meters };
}

async function upload(t: TransferContext, p: BenchPath, crypto: CryptoSet, bytes: number, source: 'text' | 'zeros'): Promise<Sample> {
  const t0 = performance.now();
  // The "S" says the remote side is reading: the clock starts there, as for downloads.
  const child = spawnSsh(p.ssh('printf S; exec wc -c', { crypto }), 'pipe');
  const done = exited(child, TIMEOUT_MS, t.signal);
  let first: number | undefined;
  let stop: (() => Promise<Meters>) | undefined;
  let out = '';
  const stdin = child.stdin!;
  const pumpZeros = (): void => {
    const chunk = Buffer.alloc(1 << 20);
    let sent = 0;
    const more = (): void => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!stdin.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          stdin.once('drain', more);
          return;
        }
      }
      stdin.end();
    };
    more();
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out += d;
    if (first === undefined && out.startsWith('S')) {
      first = performance.now();
      stop = startMeters(t.wardenPid);
      if (source === 'zeros') pumpZeros();
      else createReadStream(t.text.path, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 }).pipe(stdin);
    }
  });
  const res = await done;
  const end = performance.now();
  const meters = (await stop?.()) ?? NO_METERS;
  const counted = Number(out.slice(1).trim());
  if (res.code !== 0 || counted !== bytes || first === undefined) {
    throw new Error(`${p.name} upload ${source}: exit ${res.code ?? res.signal}, target counted ${out.slice(1).trim() || 'nothing'} of ${bytes} bytes; stderr: ${res.stderr.trim().slice(0, 300)}`);
  }
  return { seconds: (end - first) / 1000, wall: (end - t0) / 1000, ...meters };
}

/** Run one transfer of `kind`; `bytes` is a whole number of MiB, at most the text file's size. */
export function transfer(t: TransferContext, kind: KindName, p: BenchPath, crypto: CryptoSet, bytes: number): Promise<Sample> {
  const exact = (got: number) => got === bytes;
  switch (kind) {
    case 'text-exec':
      return download(t, p, crypto, { command: catText(t.text, bytes), tty: false, expect: exact, what: 'text exec' });
    case 'binary-down':
      return download(t, p, crypto, { command: `head -c ${bytes} /dev/zero`, tty: false, expect: exact, what: 'binary exec' });
    case 'text-pty': {
      // The terminal turns each LF into CR LF; after the file the shell prints "logout".
      const expected = bytes + t.text.linesIn(bytes);
      return download(t, p, crypto, {
        command: undefined,
        tty: true,
        // 'ST''ART' in the echoed line is not "START": only echo's output matches.
        typed: `stty -echo; echo ST''ART; ${catText(t.text, bytes)}; exit\n`,
        marker: 'START\r\n',
        expect: (got) => got >= expected && got <= expected + 64,
        what: `pty shell cat (expected ${expected} bytes + the shell's goodbye)`,
      });
    }
    case 'text-up':
      return upload(t, p, crypto, bytes, 'text');
    case 'binary-up':
      return upload(t, p, crypto, bytes, 'zeros');
  }
}
