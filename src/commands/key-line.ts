/**
 * What the keys of one line should make a readline-style editor display, as far as the keys
 * alone tell. The screen stays the source of truth for the command; this model only answers
 * "has the echo of these keys arrived?" (the filter gate, before it judges a line) and "is
 * the text on screen the echo of these keys, or something a program printed?" (the command
 * tracker, for a line whose echo came after Enter, as in a burst).
 *
 * It follows the emacs-mode keys whose effect does not depend on anything but the line itself:
 * text, Backspace, Delete, Left/Right, Home/End (and Ctrl-A/E/B/F), Ctrl-U, Ctrl-K, Ctrl-W.
 * Any other key (Tab, history, Ctrl-R, yank, Alt-keys, ...) makes the outcome unknown: the model
 * then says so (`exact` false) instead of guessing. It still knows that the text typed since
 * the last such key is on the line (inserted at the cursor, or the Ctrl-R search string, which
 * the found line contains), and, across Tabs (completion only inserts at the cursor), the
 * pieces typed between them in order, after the text that was left of the cursor.
 */
import type { EscKind, KeyKind } from './key-scanner.js';

/** Longest line modelled (bytes); a longer one is unknown. Bounds memory per open line. */
const MAX_BYTES = 4096;
/** Longest piece of text, and most pieces, remembered once the line is unknown. */
const MAX_RUN = 256;
const MAX_PIECES = 16;
const TAB = 0x09;

export class KeyLine {
  /** UTF-8 bytes of the line and the cursor, a byte index on a character boundary. */
  private bytes: number[] = [];
  private cursor = 0;
  exact = true;
  /** Whether any printable text was typed (a line of edit keys only recalls history). */
  anyText = false;
  /** Once unknown: text known to be on the line, in order (see the module comment). */
  private pieces: number[][] = [[]];
  /** Whether a pasted newline was typed. */
  private multiline = false;

  /** `unknown`: keys of this line may have been missed, so it is not modelled. */
  constructor(unknown = false) {
    this.exact = !unknown;
  }

  /** Feed one key as classified by KeyScanner. */
  key(kind: KeyKind, byte: number, esc: EscKind, param: number): void {
    if (kind === 'text') {
      this.anyText = true;
      if (byte === 0x0a) this.multiline = true;
      if (this.exact) this.insert(byte);
      else this.piece(byte);
    } else if (kind === 'edit') {
      if (esc === 'none' && byte === TAB) this.tab();
      else if (!this.exact) this.pieces = [[]];
      else this.exact = esc === 'none' ? this.control(byte) : esc === 'csi' || esc === 'ss3' ? this.sequence(byte, esc === 'csi' ? param : 0) : false;
    }
  }

  /**
   * Whether `shown` (the line read from the screen, trimmed) can be the echo of these keys:
   * exactly the modelled line, or, when the keys do not determine it, one row of text (unless
   * a newline was pasted) that contains the text typed last.
   */
  accepts(shown: string): boolean {
    if (this.exact) return shown === this.text()!.trim();
    if (shown === '' || (!this.multiline && shown.includes('\n'))) return false;
    let from = 0;
    for (const p of this.pieces) {
      const text = Buffer.from(p).toString('utf8');
      const at = shown.indexOf(text, from);
      if (at < 0) return false;
      from = at + text.length;
    }
    return true;
  }

  /** Completion inserts at the cursor: what is left of it stays, and so does what comes next. */
  private tab(): void {
    if (this.exact) {
      this.exact = false;
      let from = Math.max(0, this.cursor - MAX_RUN);
      while (from < this.cursor && this.isContinuation(from)) from++;
      this.pieces = [this.bytes.slice(from, this.cursor), []];
      this.bytes = [];
    } else if (this.pieces.length < MAX_PIECES) {
      this.pieces.push([]);
    }
  }

  private piece(byte: number): void {
    const last = this.pieces[this.pieces.length - 1]!;
    if (last.length < MAX_RUN) last.push(byte);
  }

  /** The line the editor should show, or null when the keys do not determine it. */
  text(): string | null {
    return this.exact ? Buffer.from(this.bytes).toString('utf8') : null;
  }

  private insert(byte: number): void {
    if (this.bytes.length >= MAX_BYTES) {
      this.exact = false;
      this.bytes = [];
      this.pieces = [[byte]];
      return;
    }
    this.bytes.splice(this.cursor++, 0, byte);
  }

  /** A plain control byte; false if its effect is not modelled. */
  private control(byte: number): boolean {
    switch (byte) {
      case 0x7f: case 0x08: this.remove(this.prev(this.cursor), this.cursor); return true; // Backspace
      case 0x01: this.cursor = 0; return true; // Ctrl-A
      case 0x05: this.cursor = this.bytes.length; return true; // Ctrl-E
      case 0x02: this.cursor = this.prev(this.cursor); return true; // Ctrl-B
      case 0x06: this.cursor = this.next(this.cursor); return true; // Ctrl-F
      case 0x15: this.remove(0, this.cursor); return true; // Ctrl-U: unix-line-discard
      case 0x0b: this.remove(this.cursor, this.bytes.length); return true; // Ctrl-K: kill-line
      case 0x17: this.remove(this.wordStart(), this.cursor); return true; // Ctrl-W: unix-word-rubout
      case 0x0c: return true; // Ctrl-L redraws; the line is unchanged
      case 0x04: // Ctrl-D deletes under the cursor; on an empty line it is end-of-file
        if (this.bytes.length === 0) return false;
        this.remove(this.cursor, this.next(this.cursor));
        return true;
      default: return false;
    }
  }

  /** CSI or SS3 final byte (with the CSI's numeric parameter, 0 if none, -1 if not numeric). */
  private sequence(final: number, param: number): boolean {
    if (param !== 0 && final !== 0x7e) return false; // modified keys (Ctrl-Left, ...)
    switch (final) {
      case 0x44: this.cursor = this.prev(this.cursor); return true; // Left
      case 0x43: this.cursor = this.next(this.cursor); return true; // Right
      case 0x48: this.cursor = 0; return true; // Home
      case 0x46: this.cursor = this.bytes.length; return true; // End
      case 0x7e:
        // Delete is bound alike everywhere; ESC [1~ / [4~ (Home/End under TERM=screen, tmux)
        // depend on the terminfo entry and inputrc, so their effect is not assumed.
        if (param !== 3) return false;
        this.remove(this.cursor, this.next(this.cursor));
        return true;
      default: return false;
    }
  }

  private remove(from: number, to: number): void {
    this.bytes.splice(from, to - from);
    this.cursor = from;
  }

  private isContinuation(i: number): boolean {
    return ((this.bytes[i] ?? 0) & 0xc0) === 0x80;
  }

  private prev(i: number): number {
    if (i === 0) return 0;
    let j = i - 1;
    while (j > 0 && this.isContinuation(j)) j--;
    return j;
  }

  private next(i: number): number {
    if (i >= this.bytes.length) return this.bytes.length;
    let j = i + 1;
    while (j < this.bytes.length && this.isContinuation(j)) j++;
    return j;
  }

  /** Start of the word left of the cursor, words being separated by blanks (unix-word-rubout). */
  private wordStart(): number {
    let i = this.cursor;
    while (i > 0 && this.isBlank(i - 1)) i--;
    while (i > 0 && !this.isBlank(i - 1)) i--;
    return i;
  }

  private isBlank(i: number): boolean {
    return this.bytes[i] === 0x20 || this.bytes[i] === 0x09;
  }
}
