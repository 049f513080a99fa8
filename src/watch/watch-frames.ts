/**
 * What the owner of a watched session publishes on its watch stream (Redis pub/sub), one
 * binary message each: terminal bytes stay bytes (no base64, no JSON escaping on the way).
 *
 *   'S' screen:  u16 cols, u16 rows, u8 id length, watcher id ("*": everyone), screen bytes
 *   'O' output:  the bytes the user's terminal received, batched over a few ms
 *   'R' resize:  u16 cols, u16 rows
 *   'E' end:     why the watch ended (UTF-8)
 *
 * A watcher ignores output until it has a screen; a screen for "*" is a resync (the owner
 * dropped output rather than buffer it) and replaces what every watcher shows.
 */
export type WatchFrame =
  | { type: 'screen'; cols: number; rows: number; for: string; data: Buffer }
  | { type: 'output'; data: Buffer }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'end'; reason: string };

export const EVERYONE = '*';

export function encodeFrame(f: WatchFrame): Buffer {
  switch (f.type) {
    case 'screen': {
      const id = Buffer.from(f.for.slice(0, 255));
      const head = Buffer.alloc(6);
      head.write('S', 0);
      head.writeUInt16BE(f.cols, 1);
      head.writeUInt16BE(f.rows, 3);
      head.writeUInt8(id.length, 5);
      return Buffer.concat([head, id, f.data]);
    }
    case 'output':
      return Buffer.concat([Buffer.from('O'), f.data]);
    case 'resize': {
      const b = Buffer.alloc(5);
      b.write('R', 0);
      b.writeUInt16BE(f.cols, 1);
      b.writeUInt16BE(f.rows, 3);
      return b;
    }
    case 'end':
      return Buffer.from(`E${f.reason}`);
  }
}

/** undefined for anything malformed (a frame from a newer or broken publisher is skipped). */
export function decodeFrame(b: Buffer): WatchFrame | undefined {
  const type = b.length ? String.fromCharCode(b[0]!) : '';
  if (type === 'O') return { type: 'output', data: b.subarray(1) };
  if (type === 'E') return { type: 'end', reason: b.subarray(1).toString('utf8') };
  if (type === 'R' && b.length === 5) return { type: 'resize', cols: b.readUInt16BE(1), rows: b.readUInt16BE(3) };
  if (type === 'S' && b.length >= 6) {
    const idLen = b.readUInt8(5);
    if (b.length < 6 + idLen) return undefined;
    return { type: 'screen', cols: b.readUInt16BE(1), rows: b.readUInt16BE(3), for: b.subarray(6, 6 + idLen).toString('utf8'), data: b.subarray(6 + idLen) };
  }
  return undefined;
}
