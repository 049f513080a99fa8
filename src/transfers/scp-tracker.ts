/**
 * Legacy scp (`scp -O`: exec `scp -t DEST` to upload, `scp -f SRC` to download), followed from
 * its protocol. The sending side writes control lines (`C0644 SIZE NAME`, `D0755 0 NAME`, `E`,
 * `T...`, or `\x01message` for an error) and file data; the receiving side answers each line
 * and each file with one ack: `\0`, or `\x01`/`\x02` + message + `\n`.
 *
 * A file refused by policy: its C line is dropped and the sender reads `\x01Warden: ...` as
 * the receiver's answer (OpenSSH's scp then skips the file and goes on); on a download the
 * client also reads the message in place of the file. After a C line the sender waits for the
 * ack before sending data, so bytes arriving meanwhile are held (bounded): whether they are
 * file data or the next line depends on that ack.
 */
import { posix } from 'node:path';
import type { EmitTransfer, TransferRecord } from './transfer-event.js';
import type { FileTap } from './sftp-files.js';
import type { TransferPolicy } from './transfer-policy.js';
import type { ScpCommand } from './scp-command.js';

export interface ScpTrackerOptions {
  command: ScpCommand;
  policy: TransferPolicy;
  emit: EmitTransfer;
  abandon(why: string): void;
  tap?(op: 'upload' | 'download', path: string): FileTap | undefined;
  now?: () => number;
}

type Forward = (data: Buffer) => void;
interface FileState {
  path: string;
  size: number;
  at: number;
  tap?: FileTap;
}
type Awaiting = { kind: 'start' } | { kind: 'line' } | { kind: 'file'; file: FileState } | { kind: 'data'; file: FileState } | { kind: 'dir'; path: string; at: number };

const MAX_LINE = 8192;
const MAX_HELD = 64 * 1024;

export class ScpTracker {
  private readonly now: () => number;
  private readonly awaiting: Awaiting[] = [{ kind: 'start' }];
  private readonly dirs: string[] = [];
  // Sender side.
  private state: 'line' | 'wait' | 'data' | 'nul' = 'line';
  private line: Buffer[] = [];
  private lineLen = 0;
  private left = 0;
  private file?: FileState;
  private held: Buffer[] = [];
  private heldLen = 0;
  private sendFwd?: Forward;
  // Receiver side.
  private ackMsg?: Buffer[];
  private ackFwd?: Forward;
  private queued: Buffer[] = [];
  private gaveUp = false;

  constructor(private readonly o: ScpTrackerOptions) {
    this.now = o.now ?? Date.now;
  }

  fromClient(d: Buffer, fwd: Forward): void {
    this.direction(d, fwd, this.o.command.mode === 'upload');
  }

  fromTarget(d: Buffer, fwd: Forward): void {
    this.direction(d, fwd, this.o.command.mode === 'download');
  }

  private direction(d: Buffer, fwd: Forward, sending: boolean): void {
    if (this.gaveUp) return fwd(d);
    if (sending) return this.sender(d, fwd);
    try {
      this.receiver(d, fwd);
    } catch (err) {
      this.giveUp((err as Error).message);
    }
  }

  private sender(d: Buffer, fwd: Forward): void {
    this.sendFwd = fwd;
    let from = 0;
    try {
      from = this.senderChunk(d, fwd);
    } catch (err) {
      // Malformed: what was held back and the rest of the chunk go through as they are.
      from = this.failedAt;
      this.giveUp((err as Error).message);
      if (d.length > from) fwd(d.subarray(from));
    }
  }

  /** Where the unforwarded part of the chunk being parsed starts (for giving up). */
  private failedAt = 0;

  private senderChunk(d: Buffer, fwd: Forward): number {
    let pos = 0;
    let from = 0;
    const flush = (to: number) => {
      if (to > from) fwd(d.subarray(from, to));
      from = to;
      this.failedAt = from;
    };
    this.failedAt = 0;
    while (pos < d.length) {
      if (this.state === 'wait') {
        flush(pos);
        if (this.heldLen + d.length - pos > MAX_HELD) throw new Error('scp sender sent too much before its file was acknowledged');
        this.held.push(Buffer.from(d.subarray(pos)));
        this.heldLen += d.length - pos;
        return d.length;
      }
      if (this.state === 'data') {
        const n = Math.min(this.left, d.length - pos);
        if (n > 0) this.file!.tap?.write(d.subarray(pos, pos + n));
        pos += n;
        this.left -= n;
        if (this.left === 0) this.state = 'nul';
        continue;
      }
      if (this.state === 'nul') {
        if (d[pos] !== 0) throw new Error('scp file data not followed by a NUL byte');
        pos += 1;
        this.awaiting.push({ kind: 'data', file: this.file! });
        this.state = 'line';
        continue;
      }
      // A control line: held until complete, then passed or refused.
      const nl = d.indexOf(10, pos);
      const end = nl < 0 ? d.length : nl + 1;
      if (this.line.length === 0) flush(pos);
      this.line.push(Buffer.from(d.subarray(pos, end)));
      this.lineLen += end - pos;
      if (this.lineLen > MAX_LINE) throw new Error('scp control line too long');
      pos = end;
      from = end;
      this.failedAt = end;
      if (nl < 0) return d.length;
      const line = Buffer.concat(this.line);
      const pass = this.controlLine(line.toString('utf8', 0, line.length - 1));
      this.line = [];
      this.lineLen = 0;
      if (pass) fwd(line);
    }
    flush(d.length);
    return d.length;
  }

  /** Returns whether the line goes on to the receiver. */
  private controlLine(text: string): boolean {
    const at = this.now();
    const type = text[0];
    if (type === 'C') {
      const m = /^C([0-7]{4}) (\d+) (.+)$/.exec(text);
      if (!m) throw new Error('malformed scp C line');
      const path = this.pathOf(m[3]!);
      const size = Number(m[2]);
      const op = this.o.command.mode;
      const max = this.o.policy.maxFileSize;
      const refusal = this.o.policy.check(op, this.candidates(path, m[3]!)) ?? (max !== undefined && size > max ? { message: `${path} is larger than maxFileSize (${max} bytes)`, rule: 'maxFileSize' } : undefined);
      if (refusal) {
        const msg = Buffer.from(`\x01Warden: ${refusal.message}\n`);
        this.injectAck(msg);
        if (op === 'download') this.sendFwd?.(msg);
        this.emit({ protocol: 'scp', operation: op, path, bytes: 0, result: 'denied', message: refusal.message, at, durationMs: 0 });
        return false;
      }
      this.file = { path, size, at, tap: this.o.tap?.(op, path) };
      this.left = size;
      this.awaiting.push({ kind: 'file', file: this.file });
      this.state = 'wait';
      return true;
    }
    if (type === 'D') {
      const m = /^D([0-7]{4}) \d+ (.+)$/.exec(text);
      if (!m) throw new Error('malformed scp D line');
      const path = this.pathOf(m[2]!);
      this.dirs.push(path);
      this.awaiting.push({ kind: 'dir', path, at });
      return true;
    }
    if (type === 'E') this.dirs.pop();
    if (type === '\x01' || type === '\x02') {
      // The sender's own error (e.g. `scp -f` of a missing file): no ack follows.
      this.emit({ protocol: 'scp', operation: this.o.command.mode, path: this.o.command.path, bytes: 0, result: 'error', message: text.slice(1), at, durationMs: 0 });
      return true;
    }
    if (type !== 'E' && type !== 'T') throw new Error(`unknown scp control line ${JSON.stringify(text.slice(0, 1))}`);
    this.awaiting.push({ kind: 'line' });
    return true;
  }

  private pathOf(name: string): string {
    if (name.includes('/') || name === '..' || name === '.') throw new Error('scp file name with a slash');
    const top = this.dirs[this.dirs.length - 1];
    if (top !== undefined) return posix.join(top, name);
    const c = this.o.command;
    if (c.mode === 'download') return posix.join(posix.dirname(c.path), name);
    return c.dir || c.path === '.' || c.path.endsWith('/') ? posix.join(c.path, name) : c.path;
  }

  /** A single-file upload may land at DEST or inside it (if DEST is a directory): check both. */
  private candidates(path: string, name: string): string[] {
    return this.dirs.length === 0 && this.o.command.mode === 'upload' && !this.o.command.dir ? [path, posix.join(path, name)] : [path];
  }

  private receiver(d: Buffer, fwd: Forward): void {
    this.ackFwd = fwd;
    fwd(d);
    for (let pos = 0; pos < d.length; pos++) {
      const b = d[pos]!;
      if (this.ackMsg) {
        if (b === 10) this.ack(Buffer.concat(this.ackMsg).toString('utf8'));
        else if (this.ackMsg.length < MAX_LINE) this.ackMsg.push(d.subarray(pos, pos + 1));
      } else if (b === 0) this.ack(undefined);
      else if (b === 1 || b === 2) this.ackMsg = [];
      else throw new Error(`unexpected scp ack byte ${b}`);
    }
    if (!this.ackMsg) this.flushAcks();
  }

  private ack(error: string | undefined): void {
    this.ackMsg = undefined;
    const a = this.awaiting.shift();
    if (!a) throw new Error('scp ack without a request');
    const done = (file: FileState, bytes: number) =>
      this.finish({ protocol: 'scp', operation: this.o.command.mode, path: file.path, bytes, result: error === undefined ? 'ok' : 'error', message: error, at: file.at, durationMs: this.now() - file.at }, file.tap);
    if (a.kind === 'file') {
      this.state = error === undefined ? (this.left === 0 ? 'nul' : 'data') : 'line';
      if (error !== undefined) {
        a.file.tap?.abort();
        done(a.file, 0);
      }
      this.release();
    } else if (a.kind === 'data') done(a.file, a.file.size);
    else if (a.kind === 'dir' && this.o.command.mode === 'upload') this.emit({ protocol: 'scp', operation: 'mkdir', path: a.path, bytes: 0, result: error === undefined ? 'ok' : 'error', message: error, at: a.at, durationMs: this.now() - a.at });
  }

  /** The sender's bytes held while its file waited for the ack, now that the ack is known. */
  private release(): void {
    const held = this.held;
    this.held = [];
    this.heldLen = 0;
    for (const b of held) this.sender(b, this.sendFwd!);
  }

  private injectAck(msg: Buffer): void {
    if (!this.ackMsg && this.ackFwd) this.ackFwd(msg);
    else this.queued.push(msg);
  }

  private flushAcks(): void {
    const q = this.queued;
    this.queued = [];
    for (const b of q) this.ackFwd!(b);
  }

  private finish(rec: TransferRecord, tap: FileTap | undefined): void {
    if (!tap || rec.result !== 'ok') return this.emit(rec);
    tap.finish().then((t) => this.emit({ ...rec, ...t }), () => this.emit(rec));
  }

  private emit(rec: TransferRecord): void {
    if (rec.message === undefined) delete rec.message;
    this.o.emit(rec);
  }

  private giveUp(why: string): void {
    if (this.gaveUp) return;
    this.gaveUp = true;
    const held = [...this.line, ...this.held];
    this.line = [];
    this.held = [];
    for (const b of held) this.sendFwd?.(b);
    this.o.abandon(why);
  }

  /** The channel closed: a file in flight is recorded as interrupted. */
  close(): void {
    const f = this.file;
    if (f && (this.state === 'data' || this.state === 'nul' || this.state === 'wait')) {
      f.tap?.abort();
      this.emit({ protocol: 'scp', operation: this.o.command.mode, path: f.path, bytes: f.size - this.left, result: 'interrupted', at: f.at, durationMs: this.now() - f.at });
    }
    this.file = undefined;
  }
}
