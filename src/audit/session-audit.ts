/**
 * Everything Warden writes about what happens inside one session channel: the asciicast
 * recording (streamed, hash-chained), the command log (from a headless terminal fed with the
 * output), and the command filter at Enter.
 *
 * The relay calls output()/input() for every chunk: both only queue (recorder) or feed the
 * emulator; the filter costs something only when Enter is pressed on a grant with rules.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { AsciicastRecorder } from '../recording/asciicast-recorder.js';
import type { CommandEntry } from '../commands/command-tracker.js';
import { LazyTracker } from '../commands/lazy-tracker.js';
import { compileRules, type CommandFilter, type Rule } from '../commands/command-filter.js';
import { describeFsError, printable } from '../text.js';
import { clampScreen } from '../screen-size.js';
import { withTimeout } from '../timeout.js';
import type { AuditSink, CommandLogEntry } from './audit-queues.js';
import type { ChannelRelay } from '../channel-relay.js';
import { recordingPath } from './recording-files.js';


export interface SessionAuditOptions {
  sessionId: string;
  /** This channel's number within the connection. */
  channel: number;
  /** When the session (connection) started: names the recordings' day folder. */
  sessionStart: number;
  user: string;
  asset: string;
  account: string;
  kind: 'shell' | 'exec';
  pty?: { term: string; cols: number; rows: number };
  command?: string;
  rules: readonly Rule[];
  /** Record the channel (asciicast); the command log and filter work either way. */
  record: boolean;
  recordingsDir: string;
  recordInput: boolean;
  sink: AuditSink;
  audit: Logger;
  log: Logger;
  /** The recording cannot be written (disk full, permissions...): the session's policy decides. */
  onRecordingFailed(why: string): void;
}

/** Bash readline and the tty line discipline both clear the line on Ctrl-E Ctrl-U. */
const CLEAR_LINE = Buffer.from('\x05\x15');
const ENTER = Buffer.from('\r');
/** Keys typed closer together than this are a paste or type-ahead: wait for their echo. */
const ECHO_SETTLE_MS = 30;
const ECHO_WAIT_MAX_MS = 300;
/** The input path must never hang on the emulator. */
const JUDGE_TIMEOUT_MS = 2_000;

export type Forward = (data: Buffer) => void;

export class SessionAudit {
  readonly recorder?: AsciicastRecorder;
  private readonly tracker?: LazyTracker;
  private readonly filter: CommandFilter;
  private readonly started = Date.now();
  private lastKeyAt = 0;
  /** Bytes of binary output left out of the recording (0: none so far). */
  private binaryBytes = 0;

  constructor(private readonly o: SessionAuditOptions) {
    if (o.record) this.recorder = this.startRecording();
    this.filter = compileRules(o.rules);
    if (o.kind === 'shell' && o.pty) {
      this.tracker = new LazyTracker({
        ...clampScreen(o.pty.cols, o.pty.rows),
        onCommand: (e) => this.logCommand(e),
        // A loaded target can take over a second to start vim or less; the entry is held
        // (not lost) until the next key anyway, so a generous window only costs latency.
        holdMs: 3_000,
        onError: (err) => o.log.warn({ err: String(err) }, 'command log callback failed'),
      });
    } else if (o.kind === 'shell') {
      // Without a terminal there is no screen to read: say so instead of logging nothing.
      this.logCommand({ command: '', at: this.started }, { tag: 'no_pty' });
    } else {
      this.logCommand({ command: o.command ?? '', at: this.started }, { tag: 'exec' });
    }
  }

  private startRecording(): AsciicastRecorder | undefined {
    const o = this.o;
    const file = recordingPath(o.recordingsDir, o.sessionId, o.channel, o.sessionStart);
    const failed = (err: Error) => {
      o.log.error({ err, channel: o.channel }, 'recording failed');
      o.onRecordingFailed(describeFsError(err));
    };
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (err) {
      failed(err as Error);
      return undefined;
    }
    // A player allocates the header's size: clamped like every screen Warden models.
    const screen = clampScreen(o.pty?.cols ?? 80, o.pty?.rows ?? 24);
    return new AsciicastRecorder({
      file,
      width: screen.cols,
      height: screen.rows,
      term: o.pty?.term,
      title: `${o.sessionId}.${o.channel} ${o.user} → ${o.account}@${o.asset}`,
      command: o.command,
      recordInput: o.recordInput,
      onError: failed,
    });
  }

  /** Whether an exec command may run at all; logs and audits a refusal. */
  checkExec(): { allowed: true } | { allowed: false; message: string } {
    const verdict = this.filter.check(this.o.command ?? '');
    if (verdict.action === 'deny') {
      this.denied(this.o.command ?? '', verdict.message, verdict.rule.pattern);
      return { allowed: false, message: `Command refused by policy: ${verdict.message}` };
    }
    if (verdict.action === 'warn') this.warned(this.o.command ?? '', verdict.rule.pattern);
    return { allowed: true };
  }

  output(data: Buffer): void {
    if (this.binaryBytes > 0) {
      this.binaryBytes += data.length;
      return;
    }
    // A channel without a terminal that sends NUL bytes carries a file (scp, tar, rsync), not
    // text: asciicast cannot represent it (and escaping NULs would cost ~6x the bytes), so it
    // is left out, with a marker; its size is in the session record.
    if (!this.o.pty && data.indexOf(0) !== -1) {
      this.binaryBytes = data.length;
      this.recorder?.marker('warden: binary output from here on is not recorded');
      return;
    }
    this.recorder?.output(data);
    this.tracker?.output(data);
  }

  input(data: Buffer): void {
    this.recorder?.input(data);
    // With a filter, the gate feeds the tracker itself, in step with what reaches the target,
    // so the line is still open when it is judged at Enter.
    if (!this.filtering) this.tracker?.input(data);
  }

  /** The recorder is behind: the relay should stop reading the target until `drained()`. */
  get backlogged(): boolean {
    return this.recorder?.backlogged ?? false;
  }

  drained(): Promise<void> {
    return this.recorder?.drained() ?? Promise.resolve();
  }

  resize(cols: number, rows: number): void {
    const size = clampScreen(cols, rows);
    this.recorder?.resize(size.cols, size.rows);
    this.tracker?.resize(size.cols, size.rows);
  }

  get filtering(): boolean {
    return this.tracker !== undefined && this.o.rules.length > 0;
  }

  /**
   * Input on a filtered terminal: bytes up to each Enter go through at once; at Enter the line
   * as displayed is checked, and a denied one is cleared on the target instead of run.
   */
  gate(data: Buffer, forward: Forward, say: (text: string) => void): void | Promise<void> {
    const cr = data.indexOf(13);
    const pass: Forward = (d) => {
      this.tracker!.input(d);
      forward(d);
    };
    if (cr < 0) {
      this.lastKeyAt = Date.now();
      pass(data);
      return;
    }
    return this.gateAsync(data, pass, say);
  }

  private async gateAsync(data: Buffer, forward: Forward, say: (text: string) => void): Promise<void> {
    let start = 0;
    for (let cr = data.indexOf(13); cr >= 0; cr = data.indexOf(13, start)) {
      if (cr > start) forward(data.subarray(start, cr));
      const typedJustNow = cr > start || Date.now() - this.lastKeyAt < ECHO_SETTLE_MS;
      const line = await withTimeout(this.lineAtEnter(typedJustNow), JUDGE_TIMEOUT_MS);
      if (line === undefined) {
        // Cannot tell what the line is: it is not run (fail closed), and the user is told.
        forward(CLEAR_LINE);
        say('\r\nWarden could not check this command against the policy, so it was not sent. Try again.\r\n');
        this.o.log.error('command filter could not read the line in time');
        forward(ENTER);
        start = cr + 1;
        continue;
      }
      const verdict = this.filter.check(line);
      this.o.log.debug({ verdict: verdict.action }, 'command filter at Enter');
      if (verdict.action === 'deny') {
        forward(CLEAR_LINE);
        say(`\r\nCommand refused by policy: ${verdict.message}\r\n`);
        this.denied(line, verdict.message, verdict.rule.pattern);
      } else if (verdict.action === 'warn') {
        this.warned(line, verdict.rule.pattern);
      }
      forward(ENTER);
      start = cr + 1;
    }
    if (start < data.length) forward(data.subarray(start));
    this.lastKeyAt = Date.now();
  }

  private async lineAtEnter(waitForEcho: boolean): Promise<string> {
    const t = this.tracker!;
    await t.flush();
    let line = t.currentLine();
    if (!waitForEcho) return line;
    // Pasted or typed-ahead text: let its echo arrive and settle before judging the line.
    const deadline = Date.now() + ECHO_WAIT_MAX_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 15));
      await t.flush();
      const next = t.currentLine();
      if (next === line && line !== '') break;
      line = next;
    }
    return line;
  }

  private logCommand(e: CommandEntry, extra: Partial<CommandLogEntry> = {}): void {
    const o = this.o;
    this.o.sink.command({
      session: o.sessionId, channel: o.channel, user: o.user, asset: o.asset, account: o.account,
      command: e.command, at: e.at, offset: Math.max(0, (e.at - this.started) / 1000),
      ...(e.fullscreen ? { tag: 'fullscreen' as const } : {}), ...extra,
    });
  }

  private denied(line: string, message: string, pattern: string): void {
    this.o.audit.warn({ event: 'command_denied', session: this.o.sessionId, user: this.o.user, asset: this.o.asset, account: this.o.account, command: printable(line, 1024), rule: pattern, message }, 'command refused by policy');
    this.logCommand({ command: line, at: Date.now() }, { tag: 'denied' });
  }

  private warned(line: string, pattern: string): void {
    this.o.audit.warn({ event: 'command_warning', session: this.o.sessionId, user: this.o.user, asset: this.o.asset, account: this.o.account, command: printable(line, 1024), rule: pattern }, 'command matched a warn rule');
  }

  /** Stop feeding; finish the recording and hand it to the records queue. */
  async close(): Promise<void> {
    this.tracker?.dispose();
    if (!this.recorder) return;
    if (this.binaryBytes > 0) this.recorder.marker(`warden: ${this.binaryBytes} bytes of binary output were not recorded`);
    try {
      const summary = await this.recorder.close();
      this.o.sink.recording({ session: this.o.sessionId, channel: this.o.channel, file: summary.file, chainHead: summary.chainHead, bytes: summary.bytes });
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'could not close the recording');
    }
  }
}

/**
 * Start auditing a shell or exec channel: recording (if enabled), command log and filter.
 * Returns the refusal message when an exec command is denied (the channel must not open).
 */
export function auditChannel(
  relay: ChannelRelay,
  o: Omit<SessionAuditOptions, 'kind' | 'pty' | 'command'>,
): { audit?: SessionAudit; refused?: string } {
  if (relay.kind !== 'shell' && relay.kind !== 'exec') return {};
  const audit = new SessionAudit({ ...o, kind: relay.kind, pty: relay.pty, command: relay.command });
  if (relay.kind === 'exec') {
    const verdict = audit.checkExec();
    if (!verdict.allowed) return { audit, refused: verdict.message };
  }
  if (audit.filtering) relay.gate = (d, forward) => audit.gate(d, forward, (t) => relay.say(t));
  return { audit };
}
