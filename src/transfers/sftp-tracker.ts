/**
 * Follows one SFTP channel in both directions and turns it into file operations.
 *
 * Requests (client → target) are read from their heads: paths and flags of OPEN, REMOVE,
 * RENAME..., the handle and offset of READ/WRITE. Replies (target → client) are paired with
 * their request by id: STATUS gives each operation its result, HANDLE binds a handle to the
 * opened path, DATA and WRITE lengths count the bytes of each open file, FSTAT's ATTRS gives a
 * download's size. An upload or download is one record, at CLOSE (bytes, duration, result).
 *
 * Policy is applied at the request: a refused one is dropped (the target never sees it) and
 * answered with SSH_FX_PERMISSION_DENIED. An upload that grows past maxFileSize has its write
 * refused and its partial file removed; a download past it has its data replaced by a refusal.
 *
 * Everything a peer controls is bounded: outstanding requests, open handles, head size.
 */
import { SftpFramer, type Verdict } from './sftp-framer.js';
import { FXP, FX_EOF, FX_OK, FX_PERMISSION_DENIED, Malformed, OPEN_FLAGS, OPEN_WRITES, Reader, pathRequest, statusName, statusPacket } from './sftp-wire.js';
import type { EmitTransfer, TransferRecord } from './transfer-event.js';
import { readRequest, replyHeadSize, requestHeadSize } from './sftp-requests.js';
import { OpenFiles, type FileTap, type OpenFile, type StartTap } from './sftp-files.js';
import { resolvePath, type Refusal, type TransferOp, type TransferPolicy } from './transfer-policy.js';

export interface SftpTrackerOptions {
  policy: TransferPolicy;
  emit: EmitTransfer;
  /** Parsing stopped on malformed traffic; the bytes keep flowing unparsed. */
  abandon(why: string): void;
  /** Start a copy of an upload or download (when keeping copies is enabled). */
  tap?: StartTap;
  now?: () => number;
}

export const LIMITS = { maxHead: 64 * 1024, maxPending: 4096, maxHandles: 1024 };/** Ids of Warden's own requests: the top of the id space, which clients count up towards. */
const OWN_ID_BASE = 0xffff_ff00;

interface Pending {
  type: number;
  at: number;
  op?: TransferOp;
  path?: string;
  path2?: string;
  handle?: string;
  offset?: number;
  write?: boolean;
  mode?: number;
}

const MUTATIONS = new Set<number>([FXP.REMOVE, FXP.MKDIR, FXP.RMDIR, FXP.RENAME, FXP.SETSTAT, FXP.FSETSTAT, FXP.SYMLINK, FXP.EXTENDED]);

export class SftpTracker {
  readonly fromClient: SftpFramer;
  readonly fromTarget: SftpFramer;
  private readonly pending = new Map<number, Pending>();
  private readonly handles: OpenFiles;
  private readonly ownIds = new Set<number>();
  private nextOwnId = OWN_ID_BASE;
  private cwd?: string;
  private upTap?: FileTap;
  private downTap?: FileTap;
  private abandoned = false;
  private readonly now: () => number;

  constructor(private readonly o: SftpTrackerOptions) {
    this.now = o.now ?? Date.now;
    this.handles = new OpenFiles(LIMITS.maxHandles, (rec) => this.emit(rec), this.now, o.tap);
    const giveUp = (side: string) => (why: string) => this.giveUp(`${side}: ${why}`);
    // Requests are held until judged only when the grant restricts something; replies only
    // while Warden has a request of its own out or a download size to enforce.
    const policy = o.policy;
    this.fromClient = new SftpFramer({ mayDrop: () => !policy.permissive, need: requestHeadSize, packet: (h, n) => this.request(h, n), body: (d) => this.upTap?.write(d) }, LIMITS.maxHead, giveUp('client'));
    this.fromTarget = new SftpFramer({ mayDrop: () => this.ownIds.size > 0 || policy.maxFileSize !== undefined, need: (h, have, total) => replyHeadSize(h, have, total, this.pending.get(h.readUInt32BE(5))?.type === FXP.REALPATH), packet: (h, n) => this.reply(h, n), body: (d) => this.downTap?.write(d) }, LIMITS.maxHead, giveUp('target'));
  }

  private giveUp(why: string): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.o.abandon(why);
  }

  // --- client → target ---------------------------------------------------------------------

  private request(h: Buffer, n: number): Verdict {
    if (h[4] === FXP.INIT) return 'pass';
    const q = readRequest(h, n);
    const at = this.now();
    switch (q.kind) {
      case 'open': {
        const path = this.resolve(q.path);
        const write = (q.flags & OPEN_WRITES) !== 0;
        const op = write ? 'upload' : 'download';
        const refusal = this.judge(op, [path]) ?? (write && q.flags & OPEN_FLAGS.READ ? this.judge('download', [path]) : undefined);
        if (refusal) return this.refuse(q.id, { operation: op, path, at }, refusal);
        return this.track(q.id, { type: FXP.OPEN, at, op, path, write });
      }
      case 'handle':
        return this.track(q.id, { type: q.type, at, handle: q.handle });
      case 'read':
        return this.read(q.id, q.handle, q.offset, at);
      case 'write':
        return this.write(q.id, q.handle, q.offset, q.length, at);
      case 'path': {
        const p: Pending = { type: q.type, at, op: q.op, path: this.resolve(q.path), path2: q.path2 === undefined ? undefined : this.resolve(q.path2), mode: q.mode };
        return q.op === 'stat' ? this.track(q.id, p) : this.checked(q.id, p);
      }
      case 'fsetstat': {
        const f = this.handles.get(q.handle);
        return f ? this.checked(q.id, { type: FXP.FSETSTAT, at, op: 'setstat', path: f.path, mode: q.mode }) : 'pass';
      }
      case 'realpath':
        return this.cwd === undefined && (q.path === '.' || q.path === '') ? this.track(q.id, { type: FXP.REALPATH, at }) : 'pass';
      default:
        return 'pass';
    }
  }

  private read(id: number, handle: string, offset: number, at: number): Verdict {
    const f = this.handles.get(handle);
    const max = this.o.policy.maxFileSize;
    if (f && !f.refused && max !== undefined && offset > max) f.refused = tooBig(max);
    if (f?.refused) return this.refuseIo(id, f.refused);
    return this.track(id, { type: FXP.READ, at, handle, offset });
  }

  private write(id: number, handle: string, offset: number, length: number, at: number): Verdict {
    const f = this.handles.get(handle);
    const max = this.o.policy.maxFileSize;
    if (f && !f.refused && max !== undefined && offset + length > max) {
      f.refused = tooBig(max);
      this.removePartial(f);
    }
    if (f?.refused) return this.refuseIo(id, f.refused);
    f?.written.add(offset, length);
    this.track(id, { type: FXP.WRITE, at, handle });
    this.upTap = this.handles.follow(f, offset, length);
    return this.upTap ? 'tap' : 'pass';
  }

  private checked(id: number, p: Pending): Verdict {
    const refusal = this.judge(p.op!, p.path2 === undefined ? [p.path!] : [p.path!, p.path2]);
    if (refusal) return this.refuse(id, { operation: p.op!, path: p.path!, path2: p.path2, mode: modeText(p.mode), at: p.at }, refusal);
    return this.track(id, p);
  }

  /** The policy, once a relative path can be placed (anchored deny patterns need the cwd). */
  private judge(op: TransferOp, paths: string[]): Refusal | undefined {
    if (this.o.policy.anchored && this.cwd === undefined && paths.some((p) => !p.startsWith('/'))) {
      return { message: 'a relative path cannot be checked before the working directory is known; use an absolute path', rule: 'relative path' };
    }
    return this.o.policy.check(op, paths);
  }

  private track(id: number, p: Pending): Verdict {
    if (this.pending.size >= LIMITS.maxPending && !this.pending.has(id)) throw new Malformed(`more than ${LIMITS.maxPending} requests outstanding`);
    this.pending.set(id, p);
    return 'pass';
  }

  private refuse(id: number, rec: Pick<TransferRecord, 'operation' | 'path' | 'path2' | 'mode' | 'at'>, refusal: Refusal): Verdict {
    this.emit({ protocol: 'sftp', ...rec, bytes: 0, result: 'denied', message: refusal.message, durationMs: 0 });
    return this.refuseIo(id, refusal);
  }

  /** Answer the client in the target's place; the request is dropped. */
  private refuseIo(id: number, refusal: Refusal): Verdict {
    this.fromTarget.inject(statusPacket(id, FX_PERMISSION_DENIED, `Warden: ${refusal.message}`));
    return 'drop';
  }

  /** An upload refused half-way must not leave a partial file on the target. */
  private removePartial(f: OpenFile): void {
    if (!f.write || f.removed) return;
    f.removed = true;
    this.sendOwn(pathRequest(FXP.REMOVE, this.nextId(), f.path));
  }

  private nextId(): number {
    const id = this.nextOwnId++;
    if (this.nextOwnId > 0xffff_ffff) this.nextOwnId = OWN_ID_BASE;
    return id;
  }

  /** A request of Warden's own to the target (its reply is not the client's); returns its id. */
  private sendOwn(packet: Buffer): number {
    const id = packet.readUInt32BE(5);
    this.ownIds.add(id);
    this.fromClient.inject(packet);
    return id;
  }

  // --- target → client ---------------------------------------------------------------------

  private reply(h: Buffer, n: number): Verdict {
    const type = h[4]!;
    if (type === FXP.VERSION) {
      const version = h.readUInt32BE(5);
      if (version !== 3) throw new Malformed(`SFTP version ${version} is not followed (only 3)`);
      // Relative paths are placed against the working directory: ask for it if the client
      // may not (paramiko does not); its answer is Warden's alone.
      if (this.o.policy.anchored && this.cwd === undefined) this.pending.set(this.sendOwn(pathRequest(FXP.REALPATH, this.nextId(), '.')), { type: FXP.REALPATH, at: this.now() });
      return 'pass';
    }
    const id = h.readUInt32BE(5);
    if (this.ownIds.delete(id)) {
      const own = this.pending.get(id);
      this.pending.delete(id);
      if (own?.type === FXP.REALPATH && type === FXP.NAME) this.learnCwd(new Reader(h, n));
      return 'drop';
    }
    const p = this.pending.get(id);
    if (!p) return 'pass';
    this.pending.delete(id);
    const r = new Reader(h, n);
    switch (type) {
      case FXP.STATUS:
        this.status(p, r.u32());
        return 'pass';
      case FXP.HANDLE:
        if (p.type === FXP.OPEN || p.type === FXP.OPENDIR) this.opened(p, r.handle());
        return 'pass';
      case FXP.DATA:
        return p.type === FXP.READ ? this.data(id, p, r.u32()) : 'pass';
      case FXP.ATTRS: {
        const f = p.type === FXP.FSTAT ? this.handles.get(p.handle!) : undefined;
        const { size } = r.attrs();
        const max = this.o.policy.maxFileSize;
        if (f && !f.write && !f.refused && size !== undefined && max !== undefined && size > max) f.refused = tooBig(max);
        return 'pass';
      }
      case FXP.NAME:
        if (p.type === FXP.REALPATH) this.learnCwd(r);
        return 'pass';
      default:
        return 'pass';
    }
  }

  private learnCwd(r: Reader): void {
    if (this.cwd === undefined && r.u32() >= 1) this.cwd = resolvePath(r.text(), '/');
  }

  private opened(p: Pending, handle: string): void {
    this.handles.open(handle, { path: p.path!, dir: p.type === FXP.OPENDIR, write: p.write === true, at: p.at });
  }

  private data(id: number, p: Pending, length: number): Verdict {
    const f = this.handles.get(p.handle!);
    if (!f) return 'pass';
    const max = this.o.policy.maxFileSize;
    if (!f.refused && max !== undefined && p.offset! + length > max) f.refused = tooBig(max);
    if (f.refused) {
      f.tap?.abort();
      f.tap = undefined;
      this.fromTarget.inject(statusPacket(id, FX_PERMISSION_DENIED, `Warden: ${f.refused.message}`));
      return 'drop';
    }
    f.read.add(p.offset!, length);
    this.downTap = this.handles.follow(f, p.offset!, length);
    return this.downTap ? 'tap' : 'pass';
  }

  private status(p: Pending, code: number): void {
    const result = statusName(code);
    if (p.type === FXP.CLOSE) return this.handles.close(p.handle!, code === FX_OK ? undefined : result);
    if (p.type === FXP.READ || p.type === FXP.WRITE) {
      const f = this.handles.get(p.handle!);
      if (f && code !== FX_OK && code !== FX_EOF) f.error ??= result;
      return;
    }
    const failedOpen = (p.type === FXP.OPEN || p.type === FXP.OPENDIR || p.type === FXP.STAT || p.type === FXP.LSTAT) && code !== FX_OK;
    if (failedOpen || (MUTATIONS.has(p.type) && p.op)) this.record(p, result);
  }

  private record(p: Pending, result: string): void {
    this.emit({ protocol: 'sftp', operation: p.op!, path: p.path!, path2: p.path2, mode: modeText(p.mode), bytes: 0, result, at: p.at, durationMs: this.now() - p.at });
  }

  private emit(rec: TransferRecord): void {
    for (const k of Object.keys(rec) as Array<keyof TransferRecord>) if (rec[k] === undefined) delete rec[k];
    this.o.emit(rec);
  }

  private resolve(path: string): string {
    return resolvePath(path, this.cwd);
  }

  /** The channel closed: files still open and requests never answered are recorded as such. */
  close(): void {
    this.handles.closeAll();
    for (const p of this.pending.values()) if (MUTATIONS.has(p.type) && p.op) this.record(p, 'no_reply');
    this.pending.clear();
  }
}

function tooBig(max: number): Refusal {
  return { message: `file is larger than maxFileSize (${max} bytes)`, rule: 'maxFileSize' };
}

function modeText(mode: number | undefined): string | undefined {
  return mode === undefined ? undefined : (mode & 0o7777).toString(8).padStart(4, '0');
}
