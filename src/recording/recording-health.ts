/**
 * Can recordings be written right now? Asked at every login (so a full or read-only disk
 * refuses new sessions with a clear message under `recording.onFailure: terminate`, instead of
 * letting them in unrecorded) and told by recorders that failed mid-session.
 *
 * The probe writes, syncs and removes a small file in the recordings directory, at most once
 * per `probeEveryMs`; logins in between get the cached answer, so a login costs no disk I/O.
 * It also checks the free space against `minFreeSpace` and warns (log and audit log) once when
 * it runs low, before it is full.
 */
import { mkdir, open, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { formatByteSize } from '../byte-size.js';
import type { Logger } from '../logger.js';
import { describeFsError } from '../text.js';

export type RecordingHealthState = { ok: true } | { ok: false; why: string };

const PROBE_BYTES = Buffer.alloc(4096, 0x2e);

export class RecordingHealth {
  private state: RecordingHealthState = { ok: true };
  private checkedAt = -Infinity;
  private probing?: Promise<RecordingHealthState>;
  private lowSpace = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly o: { dir: string; minFreeSpace: number; log: Logger; audit: Logger; probeEveryMs?: number; now?: () => number },
  ) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  async check(): Promise<RecordingHealthState> {
    if (this.now() - this.checkedAt < (this.o.probeEveryMs ?? 5_000)) return this.state;
    return (this.probing ??= this.probe().finally(() => (this.probing = undefined)));
  }

  /** Probe every `everyMs` besides logins, so low space is noticed on a quiet instance too. */
  startWatching(everyMs: number): void {
    this.stopWatching();
    this.timer = setInterval(() => void this.check(), everyMs);
    this.timer.unref();
  }

  stopWatching(): void {
    clearInterval(this.timer);
  }

  /** A recorder could not write: believe it at once (the next probe may clear it). */
  failed(why: string): void {
    this.set({ ok: false, why });
    this.checkedAt = this.now();
  }

  private async probe(): Promise<RecordingHealthState> {
    const file = join(this.o.dir, `.warden-probe-${process.pid}`);
    let next: RecordingHealthState = { ok: true };
    try {
      await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
      const fh = await open(file, 'w', 0o600);
      try {
        await fh.write(PROBE_BYTES);
        await fh.sync();
      } finally {
        await fh.close();
        await unlink(file).catch(() => {});
      }
      await this.checkFreeSpace();
    } catch (err) {
      next = { ok: false, why: describeFsError(err as Error) };
    }
    this.checkedAt = this.now();
    this.set(next);
    return next;
  }

  private async checkFreeSpace(): Promise<void> {
    const fs = await statfs(this.o.dir);
    const free = fs.bavail * fs.bsize;
    const low = free < this.o.minFreeSpace;
    if (low === this.lowSpace) return;
    this.lowSpace = low;
    const fields = { event: low ? 'recording_space_low' : 'recording_space_ok', dir: this.o.dir, free: formatByteSize(free), minFreeSpace: formatByteSize(this.o.minFreeSpace) };
    const msg = low ? 'recordings disk is running low on space' : 'recordings disk has enough free space again';
    this.o.log.warn(fields, msg);
    this.o.audit.warn(fields, msg);
  }

  private set(next: RecordingHealthState): void {
    const was = this.state;
    this.state = next;
    if (was.ok === next.ok) return;
    const fields = { event: next.ok ? 'recording_writable' : 'recording_unwritable', dir: this.o.dir, ...(next.ok ? {} : { why: next.why }) };
    const msg = next.ok ? 'recordings can be written again' : 'recordings cannot be written';
    (next.ok ? this.o.log.info : this.o.log.error).call(this.o.log, fields, msg);
    this.o.audit.warn(fields, msg);
  }
}
