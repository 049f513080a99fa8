/**
 * Reads the per-file log that the target's rsync writes to its stderr (rsync-command.ts adds
 * `--log-file=/dev/stderr --log-file-format=MARKER:%o:%l:%n`) out of the channel's stderr.
 *
 * rsync prefixes every log-file line with `YYYY/MM/DD HH:MM:SS [PID] `. Lines with that prefix
 * and the channel's secret marker are file entries; other lines with that prefix are rsync's
 * own log ("receiving file list", the totals, copies of errors the client already gets through
 * the protocol) and are dropped, since the client never asked for them. Every other byte of
 * stderr is forwarded unchanged and in order; a line is held only while it still looks like
 * a log line, and never past MAX_LOG_LINE (then it is forwarded as it is).
 *
 * File names cannot forge an entry: rsync writes control characters in names (newline
 * included) as `\#ooo`, and a literal `\#ooo` in a name as `\#134#ooo`, so a name never ends
 * its line; `unescapeName` reverses it.
 */

export interface RsyncLogEntry {
  op: 'send' | 'recv' | 'del.';
  /** The file's length (%l). */
  length: number;
  /** As rsync logged it, unescaped. */
  name: string;
}

/** Longest line held: a 4096-byte path with every byte escaped (5×), plus the prefix. */
export const MAX_LOG_LINE = 24 * 1024;

/** `YYYY/MM/DD HH:MM:SS [`: '0' stands for any digit. */
const TEMPLATE = Buffer.from('0000/00/00 00:00:00 [', 'latin1');
const PREFIX = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[\d+\] /;
const ENTRY = /^(send|recv|del\.):(\d{1,20}):(.+)$/s;
const NL = 10;

/** Whether a line whose first `at` bytes fitted still fits with `piece` appended. */
function stillFits(at: number, piece: Buffer): boolean {
  const n = Math.min(TEMPLATE.length - at, piece.length);
  for (let i = 0; i < n; i++) {
    const t = TEMPLATE[at + i]!;
    const c = piece[i]!;
    if (t === 0x30 ? c < 0x30 || c > 0x39 : c !== t) return false;
  }
  return true;
}

/** rsync's `\#ooo` escapes back to bytes; the name's bytes read as UTF-8. */
export function unescapeName(latin1: string): string {
  const raw = latin1.includes('\\#') ? latin1.replace(/\\#([0-3][0-7]{2})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))) : latin1;
  return Buffer.from(raw, 'latin1').toString('utf8');
}

export class RsyncLogFilter {
  /** The start of the current line, held while it may be a log line (chunks: no re-copying). */
  private held: Buffer[] = [];
  private heldLength = 0;
  /** The current line is not a log line: its rest is forwarded as it comes. */
  private passing = false;
  /** Any log line (marked or not) was seen: the target's rsync is logging. */
  logging = false;

  constructor(
    private readonly marker: string,
    private readonly onEntry: (e: RsyncLogEntry) => void,
  ) {}

  push(data: Buffer, forward: (d: Buffer) => void): void {
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(NL, start);
      const stop = nl === -1 ? data.length : nl + 1;
      const piece = data.subarray(start, stop);
      start = stop;
      if (this.passing) {
        forward(piece);
        if (nl !== -1) this.passing = false;
        continue;
      }
      if (this.heldLength + piece.length > MAX_LOG_LINE || !stillFits(this.heldLength, piece)) {
        this.release(forward);
        forward(piece);
        this.passing = nl === -1;
      } else if (nl !== -1) {
        const line = this.held.length === 0 ? piece : Buffer.concat([...this.held, piece]);
        this.held = [];
        this.heldLength = 0;
        this.line(line, forward);
      } else {
        // A copy: `data` may be a pooled buffer reused after this call.
        this.held.push(Buffer.from(piece));
        this.heldLength += piece.length;
      }
    }
  }

  /** stderr ended: a held partial line goes on as it is. */
  end(forward: (d: Buffer) => void): void {
    this.release(forward);
  }

  private release(forward: (d: Buffer) => void): void {
    for (const b of this.held) forward(b);
    this.held = [];
    this.heldLength = 0;
  }

  private line(line: Buffer, forward: (d: Buffer) => void): void {
    const text = line.toString('latin1').replace(/\r?\n$/, '');
    const prefix = PREFIX.exec(text);
    if (!prefix) return forward(line);
    this.logging = true;
    const rest = text.slice(prefix[0].length);
    if (!rest.startsWith(`${this.marker}:`)) return;
    const m = ENTRY.exec(rest.slice(this.marker.length + 1));
    if (m) this.onEntry({ op: m[1] as RsyncLogEntry['op'], length: Number(m[2]), name: unescapeName(m[3]!) });
  }
}
