/**
 * Reconstructs the command lines a user runs in an interactive shell from the session's two byte
 * streams, by feeding the output to a headless xterm and reading the screen when a line is
 * submitted. Reading the screen rather than the keystrokes is what makes tab completion, history
 * recall and cursor edits come out right, and what keeps no-echo input (passwords) out of the log:
 * bytes the target never displayed cannot end up in a command.
 *
 * Timeline of one line:
 *  1. The first key of a line (processed after all output received before it) captures the
 *     prompt prefix: the cursor cell and the text left of it.
 *  2. Enter queues a submission. It notes whether the screen already showed what the keys
 *     should make the line editor show (key-line.ts): the echo had caught up, or not yet.
 *  3. (submissions.ts) A submission whose echo had caught up resolves at the next line feed
 *     the target sends (an echoing line editor always answers Enter with a newline). One whose
 *     echo had not (a burst, a paste, type-ahead, a slow link: keys reach us before their echo)
 *     resolves at the first line feed at which the screen shows what its keys should show;
 *     line feeds before that are part of its echo (completion listings, wrapped redraws) or of
 *     earlier lines' output. This is the same reading the filter gate makes when it holds Enter
 *     until the echo is in, so the log does not depend on whether a filter is on. Comparing as
 *     edited matters: matching only the bytes typed before the first edit key lost every burst
 *     with a Backspace, an arrow or Ctrl-U in it. A line typed for longer than `noEchoAfterMs`
 *     (from its first key, or from the target's last output if that came later) with nothing
 *     echoed is no-echo input, and a line whose screen never matches is dropped;
 *     that is how a secret typed at `read -s` or `sudo` is never logged, not even partially,
 *     even when the program prints it back on the prompt's row.
 *  4. The resolved command is held until the next key, until output arrives `holdMs` later, or
 *     until the alternate screen opens. In the last case the entry is tagged `fullscreen` and
 *     keys are ignored until the program leaves the alternate screen.
 *
 * Ctrl-C abandons the line being edited: it is not logged (no `cancelled` entries).
 * xterm parses asynchronously; input and resize are queued behind earlier output with write
 * callbacks so every decision sees the screen as it was when the key arrived. Hence `onCommand`
 * fires asynchronously, and `flush()` waits until everything received so far is processed.
 */
import xterm from '@xterm/headless';
import type { IBuffer, Terminal as XTerm } from '@xterm/headless';
import { KeyScanner, type EscKind, type KeyKind } from './key-scanner.js';
import { KeyLine } from './key-line.js';
import { WriteLag } from './write-lag.js';
import { capturePrefix, cursorRow, readEchoed, type Prefix } from './screen-text.js';
import { Submissions } from './submissions.js';

// The package is CommonJS; ESM sees its exports only through the default import.
const { Terminal } = xterm;

export interface CommandEntry {
  command: string;
  /** When Enter arrived (ms, from `now`). */
  at: number;
  /** The command opened the alternate screen (vim, less, top); its keystrokes were not parsed. */
  fullscreen?: boolean;
}

export interface CommandTrackerOptions {
  cols: number;
  rows: number;
  now?: () => number;
  onCommand: (e: CommandEntry) => void;
  /** Errors thrown by onCommand; they are caught so the emulator keeps parsing. */
  onError?: (err: unknown) => void;
  /** How long after resolving a command output may flow before we stop waiting for it to go
   *  full-screen (default 1000 ms). */
  holdMs?: number;
  /** A line typed for longer than this with nothing echoed is no-echo input (default 1000 ms). */
  noEchoAfterMs?: number;
  /** Output not yet parsed beyond which further output is skipped (default 8 MiB). */
  maxLagBytes?: number;
}

/**
 * How the line being edited compares with what its keys should display (see key-line.ts):
 * `matches` the echo has caught up; `differs` it has not (or the editor does something else);
 * `none` keys were typed and nothing shows (a slow echo, or a prompt that does not echo);
 * `unknown` the keys do not determine the line (Tab, history) and something shows.
 */
export interface LineState {
  line: string;
  echo: 'matches' | 'differs' | 'none' | 'unknown';
  /** Whether the line starts at the prompt of earlier echoed lines; undefined if none known. */
  atKnownPrompt: boolean | undefined;
}

interface OpenLine {
  prefix: Prefix;
  /** When the line's first key arrived. */
  since: number;
  keys: KeyLine;
}

const EMPTY = new Uint8Array(0);

export class CommandTracker {
  private readonly term: XTerm;
  private readonly now: () => number;
  private readonly holdMs: number;
  private readonly noEchoAfterMs: number;
  private readonly keys = new KeyScanner();
  private open: OpenLine | null = null;
  private readonly pending = new Submissions();
  private held: { entry: CommandEntry; resolvedAt: number } | null = null;
  private readonly lag: WriteLag;
  /** Unsettled flush() promises: dispose() settles them, xterm may never run their callbacks. */
  private readonly waiters = new Set<() => void>();
  private disposed = false;
  /** Keys were ignored (full screen): the next line's keys may be incomplete. */
  private keysLost = false;
  /** When output last arrived (ms, from `now`). */
  private lastOutputAt = -Infinity;

  constructor(private readonly opts: CommandTrackerOptions) {
    this.now = opts.now ?? Date.now;
    this.holdMs = opts.holdMs ?? 1000;
    this.noEchoAfterMs = opts.noEchoAfterMs ?? 1000;
    this.lag = new WriteLag(opts.maxLagBytes ?? 8 * 1024 * 1024);
    // Small scrollback: we only ever look at the rows of the line being submitted.
    this.term = new Terminal({ cols: opts.cols, rows: opts.rows, scrollback: 200, allowProposedApi: true });
    this.term.onLineFeed(() => this.onLineFeed());
    this.term.buffer.onBufferChange((buf) => this.onBufferChange(buf));
    this.term.onWriteParsed(() => this.onWriteParsed());
  }

  output(data: Buffer): void {
    if (this.disposed) return;
    this.lastOutputAt = this.now();
    if (this.lag.admit(data.length)) this.term.write(data, this.lag.parsed);
  }

  /** Output bytes skipped because the emulator lagged more than maxLagBytes behind. */
  get skippedBytes(): number {
    return this.lag.skipped;
  }

  input(data: Buffer): void {
    if (this.disposed) return;
    const at = this.now();
    const outputAt = this.lastOutputAt;
    this.afterOutput(() => this.keys.scan(data, (kind, byte, esc, param) => this.onKey(kind, byte, esc, param, at, outputAt)));
  }

  resize(cols: number, rows: number): void {
    if (this.disposed) return;
    this.afterOutput(() => this.term.resize(cols, rows));
  }

  /** The command being edited, without prompt ('' if none). Call after `await flush()` to be
   *  sure the screen reflects all output received so far. */
  currentLine(): string {
    if (!this.open || this.disposed) return '';
    const buf = this.term.buffer.normal;
    return readEchoed(buf, this.open.prefix, cursorRow(buf), this.pending.lastPrompt, this.open.keys);
  }

  /** currentLine() and how far its echo has come (for the filter gate; after `await flush()`). */
  lineState(): LineState {
    const line = this.currentLine();
    const open = this.open;
    if (!open) return { line, echo: 'matches', atKnownPrompt: undefined };
    const known = this.pending.lastPrompt;
    const atKnownPrompt = known ? known.col === open.prefix.col && known.text === open.prefix.text : undefined;
    let echo: LineState['echo'];
    if (open.keys.accepts(line)) echo = open.keys.exact ? 'matches' : 'unknown';
    else echo = line === '' ? 'none' : 'differs';
    return { line, echo, atKnownPrompt };
  }

  /**
   * Nothing in progress: no line being typed, none waiting for its newline, no command held,
   * no full-screen program. Only then may the emulator be dropped (see lazy-tracker.ts).
   * Releases a held command whose full-screen window has passed.
   */
  quiescent(): boolean {
    if (this.held && !this.inFullscreen && this.now() - this.held.resolvedAt >= this.holdMs) this.release();
    return !this.disposed && !this.open && this.pending.size === 0 && !this.held && !this.inFullscreen;
  }

  /** Resolves once everything received so far has been parsed and handled. */
  flush(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      this.afterOutput(done);
    });
  }

  /** Emits a command still held for the full-screen check, drops unresolved lines (they may be
   *  unechoed secrets) and frees the emulator. Call `flush()` first to process queued data. */
  dispose(): void {
    if (this.disposed) return;
    this.release();
    this.cancelOpen();
    this.pending.drop();
    this.disposed = true;
    this.term.dispose();
    for (const done of [...this.waiters]) done();
  }

  private afterOutput(fn: () => void): void {
    this.term.write(EMPTY, fn);
  }

  private get inFullscreen(): boolean {
    return this.term.buffer.active.type === 'alternate';
  }

  private onKey(kind: KeyKind, byte: number, esc: EscKind, param: number, at: number, outputAt: number): void {
    if (this.disposed) return;
    if (this.inFullscreen) {
      // Some of these may be the first keys of the next line, typed as the program exited.
      this.keysLost = true;
      return;
    }
    // A key means the held command did not open the alternate screen before the user went on.
    this.release();
    if (kind === 'interrupt') {
      this.cancelOpen();
      return;
    }
    const line = this.open ?? this.openLine(at);
    if (!line) return;
    if (kind === 'enter') this.submit(line, at, outputAt);
    else line.keys.key(kind, byte, esc, param);
  }

  private openLine(since: number): OpenLine | null {
    const buf = this.term.buffer.normal;
    const marker = this.term.registerMarker(0); // on the active (normal) buffer: see onKey
    if (!marker) return null;
    this.open = { prefix: capturePrefix(buf, marker), since, keys: new KeyLine(this.keysLost) };
    this.keysLost = false;
    return this.open;
  }

  /** `outputAt`: when output last arrived before the Enter. The no-echo clock runs from the
   *  line's first key or from that output, whichever is later: a line typed ahead waits,
   *  unechoed, behind the command before it, and the prompt printed after that command is done
   *  is when the target could first have echoed it. */
  private submit(line: OpenLine, at: number, outputAt: number): void {
    const slow = at - Math.max(line.since, outputAt) > this.noEchoAfterMs;
    this.pending.add(this.term.buffer.normal, line.prefix, line.keys, at, slow);
    this.open = null;
  }

  private onLineFeed(): void {
    if (this.pending.size === 0 || this.inFullscreen) return;
    const answered = this.pending.onLineFeed(this.term.buffer.normal);
    if (answered && answered.command !== '') this.hold(answered);
  }

  private hold(entry: CommandEntry): void {
    this.release();
    this.held = { entry, resolvedAt: this.now() };
  }

  private release(fullscreen = false): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    this.emit(fullscreen ? { ...held.entry, fullscreen: true } : held.entry);
  }

  private onWriteParsed(): void {
    if (this.held && !this.inFullscreen && this.now() - this.held.resolvedAt >= this.holdMs) this.release();
  }

  private onBufferChange(buf: IBuffer): void {
    if (buf.type !== 'alternate') return;
    this.release(true);
    // Lines typed ahead cannot be resolved from the full-screen program's display.
    this.cancelOpen();
    this.pending.drop();
  }

  private emit(entry: CommandEntry): void {
    try {
      this.opts.onCommand(entry);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private cancelOpen(): void {
    this.open?.prefix.marker.dispose();
    this.open = null;
  }
}
