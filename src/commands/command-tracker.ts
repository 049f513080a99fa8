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
 *  2. Enter queues a submission. It notes whether the screen already showed text after the
 *     prompt (the echo) and, if not, the plain text typed, for the echo check in step 3.
 *  3. The submission resolves at the next line feed the target sends: an echoing line editor
 *     always answers Enter with a newline, and by then the echo of fast-typed keys has arrived
 *     too (reading at Enter would miss a line typed faster than the round trip). A submission
 *     with no echo at Enter counts only if it was typed faster than `noEchoAfterMs` (type-ahead,
 *     not a person typing blind at a prompt) and the screen now starts with the text typed;
 *     otherwise it is dropped. That is how a secret typed at `read -s` or `sudo` is never logged,
 *     not even partially, even when the program prints it back on the prompt's row.
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
import { KeyScanner, type KeyKind } from './key-scanner.js';
import { WriteLag } from './write-lag.js';
import { capturePrefix, cursorRow, logicalEnd, promptStillShown, readCommand, type Prefix, type PromptShape } from './screen-text.js';

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

interface OpenLine {
  prefix: Prefix;
  /** When the line's first key arrived. */
  since: number;
  /** Plain text typed before the first edit key (bytes, capped): what an echo must show. */
  head: number[];
  headDone: boolean;
  anyText: boolean;
}

interface Submission {
  prefix: Prefix;
  at: number;
  echoed: boolean;
  /** Typed for longer than noEchoAfterMs. */
  slow: boolean;
  head: string;
  anyText: boolean;
  /** Last row of the line at Enter, relative to the prompt's row (multi-line pastes). */
  endOffset: number;
}

const EMPTY = new Uint8Array(0);
const MAX_HEAD = 256;
/** Unresolved submissions kept at most (a program reading lines with echo off and never
 *  printing a newline would otherwise grow the queue). */
const MAX_PENDING = 32;

export class CommandTracker {
  private readonly term: XTerm;
  private readonly now: () => number;
  private readonly holdMs: number;
  private readonly noEchoAfterMs: number;
  private readonly keys = new KeyScanner();
  private open: OpenLine | null = null;
  private pending: Submission[] = [];
  private held: { entry: CommandEntry; resolvedAt: number } | null = null;
  /** The prompt of the last echoed line, to recognise it when a prefix was captured off it. */
  private lastPrompt: PromptShape | undefined;
  private readonly lag: WriteLag;
  /** Unsettled flush() promises: dispose() settles them, xterm may never run their callbacks. */
  private readonly waiters = new Set<() => void>();
  private disposed = false;

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
    if (!this.disposed && this.lag.admit(data.length)) this.term.write(data, this.lag.parsed);
  }

  /** Output bytes skipped because the emulator lagged more than maxLagBytes behind. */
  get skippedBytes(): number {
    return this.lag.skipped;
  }

  input(data: Buffer): void {
    if (this.disposed) return;
    const at = this.now();
    this.afterOutput(() => this.keys.scan(data, (kind, byte) => this.onKey(kind, byte, at)));
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
    return readCommand(buf, this.open.prefix, cursorRow(buf), this.lastPrompt);
  }

  /**
   * Nothing in progress: no line being typed, none waiting for its newline, no command held,
   * no full-screen program. Only then may the emulator be dropped (see lazy-tracker.ts).
   * Releases a held command whose full-screen window has passed.
   */
  quiescent(): boolean {
    if (this.held && !this.inFullscreen && this.now() - this.held.resolvedAt >= this.holdMs) this.release();
    return !this.disposed && !this.open && this.pending.length === 0 && !this.held && !this.inFullscreen;
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
    this.dropPending(this.pending.length);
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

  private onKey(kind: KeyKind, byte: number, at: number): void {
    if (this.disposed || this.inFullscreen) return;
    // A key means the held command did not open the alternate screen before the user went on.
    this.release();
    if (kind === 'interrupt') {
      this.cancelOpen();
      return;
    }
    const line = this.open ?? this.openLine(at);
    if (!line) return;
    if (kind === 'enter') this.submit(line, at);
    else if (kind === 'text') {
      line.anyText = true;
      if (!line.headDone && line.head.length < MAX_HEAD) line.head.push(byte);
    } else if (kind === 'edit') line.headDone = true;
  }

  private openLine(since: number): OpenLine | null {
    const buf = this.term.buffer.normal;
    const marker = this.term.registerMarker(0); // on the active (normal) buffer: see onKey
    if (!marker) return null;
    this.open = { prefix: capturePrefix(buf, marker), since, head: [], headDone: false, anyText: false };
    return this.open;
  }

  private submit(line: OpenLine, at: number): void {
    const buf = this.term.buffer.normal;
    const end = logicalEnd(buf, cursorRow(buf));
    this.pending.push({
      prefix: line.prefix,
      at,
      echoed: readCommand(buf, line.prefix, end, this.lastPrompt) !== '',
      head: line.anyText ? Buffer.from(line.head).toString('utf8') : '',
      slow: at - line.since > this.noEchoAfterMs,
      anyText: line.anyText,
      endOffset: end - line.prefix.marker.line,
    });
    this.open = null;
    if (this.pending.length > MAX_PENDING) this.dropPending(1);
  }

  private onLineFeed(): void {
    if (this.pending.length === 0 || this.inFullscreen) return;
    const buf = this.term.buffer.normal;
    const left = cursorRow(buf) - 1; // the row the newline just left
    // The newline answers the oldest submission, unless that one was never echoed and the screen
    // does not show what was typed: then it belonged to a no-echo prompt, and we try the next.
    while (this.pending.length > 0) {
      const s = this.pending.shift()!;
      const marker = s.prefix.marker;
      const last = marker.isDisposed ? left : Math.max(left, marker.line + s.endOffset);
      const command = readCommand(buf, s.prefix, last, this.lastPrompt);
      if (s.echoed && promptStillShown(buf, s.prefix)) this.lastPrompt = { col: s.prefix.col, text: s.prefix.text };
      marker.dispose();
      if (s.echoed || this.looksEchoed(s, command)) {
        if (command !== '') this.hold({ command, at: s.at });
        return;
      }
    }
  }

  /** Whether an unechoed submission was type-ahead whose echo came late (see step 3). */
  private looksEchoed(s: Submission, command: string): boolean {
    if (!s.anyText) return true; // only edit keys (history recall): nothing secret was typed
    return !s.slow && s.head !== '' && command.startsWith(s.head.trim());
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
    this.dropPending(this.pending.length);
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

  private dropPending(n: number): void {
    for (const s of this.pending.splice(0, n)) s.prefix.marker.dispose();
  }
}
