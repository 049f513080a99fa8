/**
 * The files an SFTP channel has open, by handle: the path each was opened with, bytes read and
 * written, why it was refused or failed, and the copy following its bytes (transfer.keep). A
 * file is one record when it is closed: an upload or download (a directory: a listing).
 */
import { ByteRanges } from './byte-ranges.js';
import { Malformed } from './sftp-wire.js';
import type { EmitTransfer, TransferRecord } from './transfer-event.js';
import type { Refusal } from './transfer-policy.js';

/** A copy of a file's bytes as they pass (hashing, optionally kept on disk). */
export interface FileTap {
  write(data: Buffer): void;
  finish(): Promise<{ sha256?: string; kept?: string }>;
  /** The bytes cannot be followed in order: no hash, no copy. */
  abort(): void;
}

export type StartTap = (op: 'upload' | 'download', path: string) => FileTap | undefined;

export interface OpenFile {
  path: string;
  dir: boolean;
  write: boolean;
  at: number;
  /** The file's ranges read or written (a range sent twice counts once). */
  read: ByteRanges;
  written: ByteRanges;
  refused?: Refusal;
  error?: string;
  removed?: boolean;
  tap?: FileTap;
  tapNext: number;
}

export class OpenFiles {
  private readonly byHandle = new Map<string, OpenFile>();

  constructor(
    private readonly maxHandles: number,
    private readonly emit: EmitTransfer,
    private readonly now: () => number,
    private readonly startTap?: StartTap,
  ) {}

  get(handle: string): OpenFile | undefined {
    return this.byHandle.get(handle);
  }

  open(handle: string, f: Pick<OpenFile, 'path' | 'dir' | 'write' | 'at'>): void {
    if (this.byHandle.size >= this.maxHandles && !this.byHandle.has(handle)) throw new Malformed(`more than ${this.maxHandles} open handles`);
    const tap = f.dir ? undefined : this.startTap?.(f.write ? 'upload' : 'download', f.path);
    this.byHandle.set(handle, { ...f, read: new ByteRanges(), written: new ByteRanges(), tap, tapNext: 0 });
  }

  /** The copy to show `length` bytes at `offset` to; none (and no more copy) if out of order. */
  follow(f: OpenFile | undefined, offset: number, length: number): FileTap | undefined {
    const tap = f?.tap;
    if (!f || !tap) return undefined;
    // A block sent again (a client re-reading what it asked for twice): already in the copy.
    if (offset < f.tapNext && offset + length <= f.tapNext) return undefined;
    if (offset !== f.tapNext) {
      tap.abort();
      f.tap = undefined;
      return undefined;
    }
    f.tapNext += length;
    return tap;
  }

  /** The target answered CLOSE. */
  close(handle: string, closeError: string | undefined): void {
    const f = this.byHandle.get(handle);
    if (!f) return;
    this.byHandle.delete(handle);
    this.record(f, closeError);
  }

  /** The channel closed: files still open are recorded as interrupted. */
  closeAll(): void {
    for (const f of this.byHandle.values()) {
      if (!f.refused && !f.error) f.error = 'interrupted';
      this.record(f, undefined);
    }
    this.byHandle.clear();
  }

  private record(f: OpenFile, closeError: string | undefined): void {
    const rec: TransferRecord = {
      protocol: 'sftp',
      operation: f.dir ? 'list' : f.write ? 'upload' : 'download',
      path: f.path,
      bytes: (f.write ? f.written : f.read).total(),
      result: f.refused ? 'denied' : (f.error ?? closeError ?? 'ok'),
      message: f.refused?.message,
      at: f.at,
      durationMs: this.now() - f.at,
    };
    if (!f.tap) return this.emit(rec);
    // The copy's hash (and file) is ready once its last write has landed.
    f.tap.finish().then(
      (t) => this.emit({ ...rec, ...t }),
      () => this.emit(rec),
    );
  }
}
