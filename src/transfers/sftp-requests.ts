/**
 * What a client's SFTP request says, read from its head into a typed value (paths as sent,
 * not yet resolved), and how much of a request's or a reply's head is needed to read it.
 */
import { FXP, Reader } from './sftp-wire.js';
import type { TransferOp } from './transfer-policy.js';

export type SftpRequest =
  | { kind: 'open'; id: number; path: string; flags: number }
  /** CLOSE, FSTAT. */
  | { kind: 'handle'; id: number; type: number; handle: string }
  | { kind: 'read'; id: number; handle: string; offset: number }
  | { kind: 'write'; id: number; handle: string; offset: number; length: number }
  /** OPENDIR, REMOVE, RMDIR, MKDIR, SETSTAT, RENAME, SYMLINK, STAT, LSTAT and OpenSSH's
   *  posix-rename, hardlink and lsetstat extensions. */
  | { kind: 'path'; id: number; type: number; op: TransferOp; path: string; path2?: string; mode?: number }
  | { kind: 'fsetstat'; id: number; handle: string; mode?: number }
  | { kind: 'realpath'; id: number; path: string }
  | { kind: 'other' };

const ONE_PATH: Partial<Record<number, TransferOp>> = {
  [FXP.OPENDIR]: 'list', [FXP.REMOVE]: 'delete', [FXP.RMDIR]: 'rmdir', [FXP.STAT]: 'stat', [FXP.LSTAT]: 'stat',
};
const PATH_AND_ATTRS: Partial<Record<number, TransferOp>> = { [FXP.MKDIR]: 'mkdir', [FXP.SETSTAT]: 'setstat' };
const TWO_PATHS: Partial<Record<number, TransferOp>> = { [FXP.RENAME]: 'rename', [FXP.SYMLINK]: 'symlink' };
const EXTENSIONS: Record<string, { op: TransferOp; args: 'two-paths' | 'path-and-attrs' }> = {
  'posix-rename@openssh.com': { op: 'rename', args: 'two-paths' },
  'hardlink@openssh.com': { op: 'link', args: 'two-paths' },
  'lsetstat@openssh.com': { op: 'setstat', args: 'path-and-attrs' },
};

/** Bytes of a request's head needed to read it: all of it, except WRITE's data. */
export function requestHeadSize(h: Buffer, have: number, total: number): number {
  if (h[4] !== FXP.WRITE) return total;
  if (have < 13) return 13;
  return 13 + h.readUInt32BE(9) + 12;
}

/**
 * Bytes of a reply's head needed: STATUS's code, DATA's length, all of HANDLE, ATTRS and
 * VERSION; of a NAME only the first name, and only when it answers REALPATH (the working
 * directory): a directory listing is skipped.
 */
export function replyHeadSize(h: Buffer, have: number, total: number, answersRealpath: boolean): number {
  switch (h[4]) {
    case FXP.STATUS:
    case FXP.DATA:
      return Math.min(total, 13);
    case FXP.HANDLE:
    case FXP.ATTRS:
    case FXP.VERSION:
      return total;
    case FXP.NAME:
      if (!answersRealpath) return 9;
      return have < 17 ? Math.min(total, 17) : Math.min(total, 17 + h.readUInt32BE(13));
    default:
      return 9;
  }
}

/** Read a request (not INIT) from its complete head. Throws Malformed past the head's end. */
export function readRequest(h: Buffer, n: number): SftpRequest {
  const type = h[4]!;
  const id = h.readUInt32BE(5);
  const r = new Reader(h, n);
  const pathOp = (op: TransferOp, args: 'one-path' | 'two-paths' | 'path-and-attrs'): SftpRequest => {
    const path = r.text();
    if (args === 'two-paths') return { kind: 'path', id, type, op, path, path2: r.text() };
    return args === 'one-path' ? { kind: 'path', id, type, op, path } : { kind: 'path', id, type, op, path, mode: r.attrs().mode };
  };
  if (ONE_PATH[type]) return pathOp(ONE_PATH[type], 'one-path');
  if (PATH_AND_ATTRS[type]) return pathOp(PATH_AND_ATTRS[type], 'path-and-attrs');
  if (TWO_PATHS[type]) return pathOp(TWO_PATHS[type], 'two-paths');
  switch (type) {
    case FXP.OPEN:
      return { kind: 'open', id, path: r.text(), flags: r.u32() };
    case FXP.CLOSE:
    case FXP.FSTAT:
      return { kind: 'handle', id, type, handle: r.handle() };
    case FXP.READ:
      return { kind: 'read', id, handle: r.handle(), offset: r.u64() };
    case FXP.WRITE:
      return { kind: 'write', id, handle: r.handle(), offset: r.u64(), length: r.u32() };
    case FXP.FSETSTAT:
      return { kind: 'fsetstat', id, handle: r.handle(), mode: r.attrs().mode };
    case FXP.REALPATH:
      return { kind: 'realpath', id, path: r.text() };
    case FXP.EXTENDED: {
      const ext = EXTENSIONS[r.text()];
      return ext ? pathOp(ext.op, ext.args) : { kind: 'other' };
    }
    default:
      return { kind: 'other' };
  }
}
