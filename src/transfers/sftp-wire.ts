/**
 * SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02, what OpenSSH, paramiko and every
 * common client speak): packet types, flags, status codes, and bounds-checked readers over a
 * packet's head. Every packet is `uint32 length, byte type, uint32 request-id, ...`.
 */

export const FXP = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, LSTAT: 7, FSTAT: 8, SETSTAT: 9,
  FSETSTAT: 10, OPENDIR: 11, READDIR: 12, REMOVE: 13, MKDIR: 14, RMDIR: 15, REALPATH: 16,
  STAT: 17, RENAME: 18, READLINK: 19, SYMLINK: 20,
  STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105, EXTENDED: 200, EXTENDED_REPLY: 201,
} as const;

export const OPEN_FLAGS = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10, EXCL: 0x20 } as const;
/** Any of these on OPEN changes the file on the target: it is an upload. */
export const OPEN_WRITES = OPEN_FLAGS.WRITE | OPEN_FLAGS.APPEND | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC;

export const ATTR = { SIZE: 1, UIDGID: 2, PERMISSIONS: 4, ACMODTIME: 8, EXTENDED: 0x80000000 } as const;

const STATUS_NAMES = ['ok', 'eof', 'no_such_file', 'permission_denied', 'failure', 'bad_message', 'no_connection', 'connection_lost', 'op_unsupported'];
export const FX_OK = 0;
export const FX_EOF = 1;
export const FX_PERMISSION_DENIED = 3;

/** "no_such_file" for 2; unknown codes as "status_N". */
export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `status_${code >>> 0}`;
}

/** OpenSSH's sftp-server refuses messages over 256 KiB; so do we (as malformed). */
export const MAX_PACKET = 256 * 1024 + 1024;

/** Thrown by the readers when a field runs past the head: the packet is malformed. */
export class Malformed extends Error {}

/** A cursor over the head of one packet (starts after length, type and id). */
export class Reader {
  pos: number;
  constructor(
    private readonly buf: Buffer,
    private readonly end: number,
    start = 9,
  ) {
    this.pos = start;
  }

  u32(): number {
    if (this.pos + 4 > this.end) throw new Malformed('uint32 past end');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    // Offsets above 2^53 are not real files; keep them comparable (they exceed any limit).
    return hi * 0x1_0000_0000 + lo;
  }

  bytes(): Buffer {
    const n = this.u32();
    if (n > this.end - this.pos) throw new Malformed('string past end');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A path or name: SFTP v3 paths are bytes, UTF-8 in practice. */
  text(): string {
    return this.bytes().toString('utf8');
  }

  /** A handle, as a map key (handles are opaque bytes). */
  handle(): string {
    return this.bytes().toString('latin1');
  }

  /** The attributes we care about: size and permission bits. */
  attrs(): { size?: number; mode?: number } {
    const flags = this.u32();
    const out: { size?: number; mode?: number } = {};
    if (flags & ATTR.SIZE) out.size = this.u64();
    if (flags & ATTR.UIDGID) this.pos += 8;
    if (flags & ATTR.PERMISSIONS) out.mode = this.u32();
    return out;
  }
}

/** A STATUS reply, built for a request Warden refuses on the target's behalf. */
export function statusPacket(id: number, code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const body = 1 + 4 + 4 + 4 + msg.length + 4;
  const b = Buffer.allocUnsafe(4 + body);
  let p = b.writeUInt32BE(body, 0);
  p = b.writeUInt8(FXP.STATUS, p);
  p = b.writeUInt32BE(id >>> 0, p);
  p = b.writeUInt32BE(code, p);
  p = b.writeUInt32BE(msg.length, p);
  p += msg.copy(b, p);
  b.writeUInt32BE(0, p); // language tag: empty
  return b;
}

/** A request with one path argument (REMOVE, ...), for requests Warden itself sends. */
export function pathRequest(type: number, id: number, path: string): Buffer {
  const p = Buffer.from(path, 'utf8');
  const body = 1 + 4 + 4 + p.length;
  const b = Buffer.allocUnsafe(4 + body);
  b.writeUInt32BE(body, 0);
  b.writeUInt8(type, 4);
  b.writeUInt32BE(id >>> 0, 5);
  b.writeUInt32BE(p.length, 9);
  p.copy(b, 13);
  return b;
}
