/** Hand-built SFTP v3 packets for parser tests (the field layouts of draft-ietf-secsh-filexfer-02). */
import { FXP } from '../../src/transfers/sftp-wire.js';

type Field = number | bigint | string | Buffer | { u8: number };

function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (typeof f === 'number') {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f >>> 0);
      parts.push(b);
    } else if (typeof f === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(f);
      parts.push(b);
    } else if (typeof f === 'string' || Buffer.isBuffer(f)) {
      const s = typeof f === 'string' ? Buffer.from(f, 'utf8') : f;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(s.length);
      parts.push(len, s);
    } else parts.push(Buffer.from([f.u8]));
  }
  return Buffer.concat(parts);
}

export function packet(type: number, ...fields: Field[]): Buffer {
  const body = Buffer.concat([Buffer.from([type]), encode(fields)]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

const NO_ATTRS = 0;
export const P = {
  init: () => packet(FXP.INIT, 3),
  version: (v = 3) => packet(FXP.VERSION, v),
  realpath: (id: number, path: string) => packet(FXP.REALPATH, id, path),
  name: (id: number, name: string) => packet(FXP.NAME, id, 1, name, name, NO_ATTRS),
  open: (id: number, path: string, flags: number) => packet(FXP.OPEN, id, path, flags, NO_ATTRS),
  opendir: (id: number, path: string) => packet(FXP.OPENDIR, id, path),
  handle: (id: number, h: string) => packet(FXP.HANDLE, id, h),
  write: (id: number, h: string, offset: number, data: Buffer) => packet(FXP.WRITE, id, h, BigInt(offset), data),
  read: (id: number, h: string, offset: number, len: number) => packet(FXP.READ, id, h, BigInt(offset), len),
  data: (id: number, data: Buffer) => packet(FXP.DATA, id, data),
  fstat: (id: number, h: string) => packet(FXP.FSTAT, id, h),
  attrsSize: (id: number, size: number) => packet(FXP.ATTRS, id, 1, BigInt(size)),
  close: (id: number, h: string) => packet(FXP.CLOSE, id, h),
  status: (id: number, code: number, msg = '') => packet(FXP.STATUS, id, code, msg, ''),
  remove: (id: number, path: string) => packet(FXP.REMOVE, id, path),
  rename: (id: number, a: string, b: string) => packet(FXP.RENAME, id, a, b),
  posixRename: (id: number, a: string, b: string) => packet(FXP.EXTENDED, id, 'posix-rename@openssh.com', a, b),
  mkdir: (id: number, path: string, mode: number) => packet(FXP.MKDIR, id, path, 4, mode),
  rmdir: (id: number, path: string) => packet(FXP.RMDIR, id, path),
  setstat: (id: number, path: string, mode: number) => packet(FXP.SETSTAT, id, path, 4, mode),
  symlink: (id: number, a: string, b: string) => packet(FXP.SYMLINK, id, a, b),
  stat: (id: number, path: string) => packet(FXP.STAT, id, path),
};
