/**
 * Splits the user's input byte stream into the few key classes the command tracker cares about.
 *
 * The tracker never reconstructs commands from input (the screen is the source of truth); it only
 * needs to know when a line starts, when Enter or Ctrl-C is pressed, which bytes were plain text
 * (for the echo check) and where a bracketed paste begins and ends. Escape sequences (arrows,
 * Home, F-keys) are recognised only so that their bytes are not mistaken for text or Enter.
 * State survives across chunks because a paste marker can straddle two SSH packets.
 */

/** `text`: a printable byte (UTF-8 continuation bytes included); `edit`: any other key;
 *  `mark`: a bracketed-paste marker (opens a line, but is neither text nor an edit). */
export type KeyKind = 'enter' | 'interrupt' | 'text' | 'edit' | 'mark';

/** How an `edit` key was sent: a plain byte, ESC + byte (Alt), a CSI or SS3 sequence (then `byte`
 *  is its final byte and `param` its numeric parameter: 0 if none, -1 if not a plain number), or
 *  a control byte inside a bracketed paste (inserted literally by the editor). */
export type EscKind = 'none' | 'alt' | 'csi' | 'ss3' | 'paste';

export type KeySink = (kind: KeyKind, byte: number, esc: EscKind, param: number) => void;

const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;
const CTRL_C = 0x03;
const PASTE_START = 200;
const PASTE_END = 201;

type State = 'ground' | 'esc' | 'csi' | 'ss3';

export class KeyScanner {
  private state: State = 'ground';
  /** Numeric CSI parameter; -1 once anything but digits appeared (then it is not a paste marker). */
  private param = 0;
  private inPaste = false;
  private lastByte = -1;

  scan(data: Uint8Array, sink: KeySink): void {
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      this.step(b, sink);
      this.lastByte = b;
    }
  }

  private step(b: number, sink: KeySink): void {
    switch (this.state) {
      case 'esc':
        if (b === 0x5b /* [ */) {
          this.state = 'csi';
          this.param = 0;
        } else if (b === 0x4f /* O */) {
          this.state = 'ss3';
        } else {
          this.state = 'ground';
          if (!this.inPaste) sink('edit', b, 'alt', 0); // Alt+key
        }
        return;
      case 'ss3':
        this.state = 'ground';
        if (!this.inPaste) sink('edit', b, 'ss3', 0);
        return;
      case 'csi':
        if (b >= 0x30 && b <= 0x39) {
          if (this.param >= 0) this.param = this.param * 10 + (b - 0x30);
        } else if (b >= 0x20 && b <= 0x3f) {
          this.param = -1;
        } else {
          this.state = 'ground';
          this.endCsi(b, sink);
        }
        return;
      case 'ground':
        break;
    }
    if (b === ESC) {
      this.state = 'esc';
      return;
    }
    if (this.inPaste) {
      // Pasted newlines are inserted into the edit buffer by readline, they do not submit.
      if (b === CR || b === LF) sink('text', LF, 'none', 0);
      else if (b >= 0x20 && b !== 0x7f) sink('text', b, 'none', 0);
      else sink('edit', b, 'paste', 0);
      return;
    }
    if (b === CR) sink('enter', b, 'none', 0);
    else if (b === LF) {
      // Some clients send CR LF for Enter: that is one key, not two.
      if (this.lastByte !== CR) sink('enter', b, 'none', 0);
    } else if (b === CTRL_C) sink('interrupt', b, 'none', 0);
    else if (b < 0x20 || b === 0x7f) sink('edit', b, 'none', 0);
    else sink('text', b, 'none', 0);
  }

  private endCsi(final: number, sink: KeySink): void {
    if (final === 0x7e /* ~ */ && this.param === PASTE_START) {
      this.inPaste = true;
      sink('mark', final, 'csi', this.param);
    } else if (final === 0x7e && this.param === PASTE_END) {
      this.inPaste = false;
      sink('mark', final, 'csi', this.param);
    } else if (!this.inPaste) {
      sink('edit', final, 'csi', this.param);
    }
  }
}
