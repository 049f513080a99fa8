/**
 * Everything Warden writes about what happens inside one session channel: the asciicast
 * recording (streamed, hash-chained), the command log (from a headless terminal fed with the
 * output), and the command filter at Enter.
 *
 * The relay calls output()/input() for every chunk: both only queue (recorder) or feed the
 * emulator; the filter costs something only when Enter is pressed on a grant with rules.
 */
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { AsciicastRecorder } from '../recording/asciicast-recorder.js';
import type { CommandEntry } from '../commands/command-tracker.js';
import { LazyTracker } from '../commands/lazy-tracker.js';
import { filterFor, type CommandFilter, type Rule } from '../commands/command-filter.js';
import { FilterGate, type Forward } from '../commands/filter-gate.js';
import { describeFsError, printable } from '../text.js';
import { clampScreen } from '../screen-size.js';
import type { AuditSink, CommandLogEntry } from './audit-queues.js';
import type { ChannelRelay } from '../channel-relay.js';
import { recordingPath } from './recording-files.js';
import { makePrivateDir } from '../private-files.js';

export interface ChannelAuditOptions {
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

export class ChannelAudit {
  readonly recorder?: AsciicastRecorder;
  private readonly tracker?: LazyTracker;
  private readonly filter: CommandFilter;
  private readonly started = Date.now();
  private filterGate?: FilterGate;
  /** Bytes of binary output left out of the recording (0: none so far). */
  private binaryBytes = 0;

  constructor(private readonly o: ChannelAuditOptions) {
    if (o.record) this.recorder = this.startRecording();
    this.filter = filterFor(o.rules);
    if (o.kind === 'shell' && o.pty) {
      this.tracker = new LazyTracker({
        ...clampScreen(o.pty.cols, o.pty.rows),
        onCommand: (e) => this.logCommand(e),
        // A loaded target can take over a second to start vim or less; the entry is held
        // (not lost) until the next key anyway, so a generous window only costs latency.
        holdMs: 3_000,
        onError: (err) => o.log.warn({ err }, 'command log callback failed'),
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
      makePrivateDir(dirname(file));
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
      // Only when backpressure failed to hold the target back: the recording says where, this says that.
      onGap: (bytes) => o.audit.error({ event: 'recording_gap', session: o.sessionId, channel: o.channel, user: o.user, asset: o.asset, account: o.account, bytes }, 'output left out of the recording (recorder overloaded)'),
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

  /** The terminal's last output (bounded), for a watcher's first screen; empty without a pty. */
  recentOutput(): Buffer {
    return this.tracker?.recent() ?? Buffer.alloc(0);
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
   * as displayed, once its echo is in, is checked (filter-gate.ts).
   */
  gate(data: Buffer, forward: Forward, say: (text: string) => void): void | Promise<void> {
    this.filterGate ??= new FilterGate(this.tracker!, this.filter, {
      denied: (line, message, pattern) => this.denied(line, message, pattern),
      warned: (line, pattern) => this.warned(line, pattern),
      unverified: (line, why) => this.unverified(line, why),
      log: this.o.log,
    });
    return this.filterGate.gate(data, forward, say);
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

  private unverified(line: string, why: string): void {
    this.o.audit.warn({ event: 'command_unverified', session: this.o.sessionId, user: this.o.user, asset: this.o.asset, account: this.o.account, command: printable(line, 1024), why }, 'Enter withheld: the line could not be read to check it');
    this.logCommand({ command: line, at: Date.now() }, { tag: 'unverified' });
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
      this.o.log.error({ err }, 'could not close the recording');
    }
  }
}

/**
 * Start auditing a shell or exec channel: recording (if enabled), command log and filter.
 * Returns the refusal message when an exec command is denied (the channel must not open).
 */
export function auditChannel(
  relay: ChannelRelay,
  o: Omit<ChannelAuditOptions, 'kind' | 'pty' | 'command'>,
): { audit?: ChannelAudit; refused?: string } {
  if (relay.kind !== 'shell' && relay.kind !== 'exec') return {};
  const audit = new ChannelAudit({ ...o, kind: relay.kind, pty: relay.pty, command: relay.command });
  if (relay.kind === 'exec') {
    const verdict = audit.checkExec();
    if (!verdict.allowed) return { audit, refused: verdict.message };
  }
  if (audit.filtering) relay.gate = (d, forward) => audit.gate(d, forward, (t) => relay.say(t));
  return { audit };
}
