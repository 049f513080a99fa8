/**
 * One client session channel relayed to one target channel: pty, env, shell/exec/sftp,
 * window changes, signals, exit status, EOF both ways, stderr kept apart, and backpressure
 * through stream piping (a client that stops reading stops the SSH window to the target).
 *
 * The request is accepted at once, before the target channel exists: OpenSSH may send EOF
 * right after `exec` (`ssh host cmd </dev/null`) and ssh2 refuses a late accept.
 */
import type { Client, ClientChannel, PseudoTtyInfo, ServerChannel, Session as SshSession } from 'ssh2';
import type { Logger } from './logger.js';
import type { ChannelKind } from '../machines/session.types.js';
import { crlf, printable } from './text.js';
import { pipeThroughGate, type Gate } from './gated-pipe.js';
import { holdReadables } from './hold-readable.js';
import { MAX_ENV_NAME_BYTES, MAX_ENV_VALUE_BYTES, MAX_ENV_VARS, type EnvPolicy } from './env-policy.js';
import { ResizeCoalescer } from './screen-size.js';
import { MAX_CHANNEL_REQUESTS, type SessionRefusals } from './session-refusals.js';

export interface PtyInfo {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
  modes: PseudoTtyInfo['modes'];
}

export interface RelayHooks {
  /** A channel request (shell/exec/subsystem) arrived and was accepted. */
  onStart(relay: ChannelRelay): void;
  /** Bytes from the user (keystrokes or upload). Called per chunk: keep it O(1). */
  onInput(relay: ChannelRelay, data: Buffer): void;
  /** Bytes to the user (stdout and stderr). Called per chunk: keep it O(1). */
  onOutput(relay: ChannelRelay, data: Buffer): void;
  onResize(relay: ChannelRelay, cols: number, rows: number): void;
  onExit(relay: ChannelRelay, status: string): void;
  onClose(relay: ChannelRelay): void;
}

const EMPTY = Buffer.alloc(0);

/** What bounds a channel: the env allow-list, and where refusals are told and audited. */
export interface RelayPolicy {
  env: EnvPolicy;
  refusals: SessionRefusals;
}

/** Decides what of the user's input reaches the target (the command filter, the SFTP policy). */
export type InputGate = Gate;

/** Sees the target's output before the user does (the SFTP parser); may add bytes of its own. */
export type OutputGate = (data: Buffer, forward: (data: Buffer) => void) => void;

export class ChannelRelay {
  kind: ChannelKind | 'pending' = 'pending';
  /** Number within the connection (1, 2, ...), given when the channel starts. */
  n = 0;
  /** When set, user input goes through it instead of straight to the target. */
  gate?: InputGate;
  /** When set, the target's stdout goes through it instead of straight to the user. */
  outputGate?: OutputGate;
  /** When set, the target's stderr goes through it; `end` flushes what it held. */
  stderrGate?: { push: OutputGate; end(forward: (data: Buffer) => void): void };
  pty?: PtyInfo;
  command?: string;
  /** The exec command sent to the target, when Warden changed it (rsync's per-file log). */
  targetCommand?: string;
  stream?: ServerChannel;
  target?: ClientChannel;
  private readonly env: Record<string, string> = {};
  private envCount = 0;
  private requests = 0;
  private closed = false;
  private held = false;
  /** A window-change flood costs one resize per period, of the target and of Warden's screen. */
  private readonly resizes = new ResizeCoalescer<{ cols: number; rows: number; width: number; height: number }>((w) => {
    this.target?.setWindow(w.rows, w.cols, w.height, w.width);
    this.hooks.onResize(this, w.cols, w.rows);
  });

  constructor(
    session: SshSession,
    private readonly hooks: RelayHooks,
    private readonly log: Logger,
    private readonly policy: RelayPolicy,
  ) {
    session.on('pty', (accept, reject, info) => {
      if (!this.request() || this.pty) return reject?.();
      this.pty = { term: info.term || 'xterm', cols: info.cols, rows: info.rows, width: info.width, height: info.height, modes: info.modes };
      accept?.();
    });
    session.on('env', (accept, reject, info) => {
      if (!this.request()) return reject?.();
      const verdict = policy.env.judge(info.key, info.val, this.envCount);
      if (verdict === 'accept') {
        if (!(info.key in this.env)) this.envCount++;
        this.env[info.key] = info.val;
        return accept?.();
      }
      if (verdict === 'not_allowed') policy.refusals.envDropped(info.key);
      else policy.refusals.limit('env', verdict === 'too_many' ? `at most ${MAX_ENV_VARS} environment variables per channel` : `environment variable names up to ${MAX_ENV_NAME_BYTES} bytes, values up to ${MAX_ENV_VALUE_BYTES}`);
      reject?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (this.pty) Object.assign(this.pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      this.resizes.push({ cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      accept?.();
    });
    session.on('signal', (accept, reject, info) => {
      if (!this.request() || !this.target) return reject?.();
      try {
        this.target.signal(info.name);
        accept?.();
      } catch {
        reject?.();
      }
    });
    session.on('x11', (_accept, reject) => {
      policy.refusals.prohibited('X11 forwarding');
      reject?.();
    });
    session.on('auth-agent', (_accept, reject) => {
      policy.refusals.prohibited('agent forwarding');
      reject?.();
    });
    session.on('shell', (accept, reject) => (this.request() ? this.start('shell', accept()) : reject?.()));
    session.on('exec', (accept, reject, info) => {
      if (!this.request()) return reject?.();
      this.command = info.command;
      this.start('exec', accept());
    });
    // A `subsystem` listener and no `sftp` listener: ssh2 then hands us the raw channel
    // instead of parsing SFTP itself, and we pipe it to the target's sftp subsystem.
    session.on('subsystem', (accept, reject, info) => {
      if (!this.request() || info.name !== 'sftp') return reject?.();
      this.start('sftp', accept() as unknown as ServerChannel);
    });
    session.on('error', (err: Error) => this.log.debug({ err }, 'client session channel error'));
  }

  /**
   * Whether this channel counts against limits.maxChannels: until the client closed it. ssh2
   * marks the close at once but emits 'close' only after the readable side drained, so a client
   * that closes one channel and opens the next right away would otherwise be refused.
   */
  get holdsSlot(): boolean {
    if (this.closed) return false;
    return (this.stream as unknown as { incoming?: { state?: string } } | undefined)?.incoming?.state !== 'closed';
  }

  /** Counts a channel request; false (refused, audited once) past MAX_CHANNEL_REQUESTS. */
  private request(): boolean {
    if (++this.requests <= MAX_CHANNEL_REQUESTS) return true;
    if (this.requests === MAX_CHANNEL_REQUESTS + 1) this.policy.refusals.limit('channel_requests', `at most ${MAX_CHANNEL_REQUESTS} requests per channel`);
    return false;
  }

  private start(kind: ChannelKind, stream: ServerChannel | undefined): void {
    if (!stream) return;
    this.kind = kind;
    this.stream = stream;
    this.policy.refusals.channelStarted((text) => this.say(text));
    stream.on('error', (err: Error) => this.log.debug({ err }, 'client channel error'));
    stream.on('close', () => this.finish());
    this.hooks.onStart(this);
  }

  /** Print a line to the user: stdout on a terminal, stderr otherwise; never into sftp. */
  say(text: string): boolean {
    const s = this.stream;
    if (!s || !s.writable || this.kind === 'sftp') return false;
    if (this.pty) s.write(crlf(text));
    else s.stderr.write(text);
    return true;
  }

  /** Open the matching channel on the target and start relaying. */
  attach(target: Client): void {
    if (this.closed || !this.stream) return;
    const done = (err: Error | undefined, channel: ClientChannel) => {
      if (err) {
        this.say(`\r\nWarden: the target refused the ${this.kind} request (${printable(err.message)}).\r\n`);
        return this.end(1);
      }
      if (this.closed) return channel.close();
      this.pipe(channel);
    };
    const window = this.pty && { term: this.pty.term, cols: this.pty.cols, rows: this.pty.rows, width: this.pty.width, height: this.pty.height, modes: this.pty.modes };
    if (this.kind === 'shell') target.shell(window || false, { env: this.env }, done);
    else if (this.kind === 'exec') target.exec(this.targetCommand ?? this.command ?? '', { env: this.env, ...(window ? { pty: window } : {}) }, done);
    else target.subsys('sftp', done);
  }

  private pipe(target: ClientChannel): void {
    const client = this.stream!;
    this.target = target;
    target.on('error', (err: Error) => this.log.debug({ err }, 'target channel error'));
    // Client EOF becomes target EOF. Towards the client, ssh2 drops an exit status sent after
    // EOF, while sshd sends EOF first: so a target EOF is held until the exit status has been
    // forwarded (or the channel closes), and the client sees data, exit status, EOF, close.
    if (this.gate) pipeThroughGate(client, target, this.gate, { end: true });
    else client.pipe(target);
    if (this.outputGate) pipeThroughGate(target, client, this.outputGate, { end: false });
    else target.pipe(client, { end: false });
    const errGate = this.stderrGate;
    if (errGate) {
      pipeThroughGate(target.stderr, client.stderr, errGate.push, { end: false });
      target.stderr.once('end', () => errGate.end((d) => client.stderr.write(d)));
    } else target.stderr.pipe(client.stderr, { end: false });
    // Audit and activity listeners come after the pipes: each chunk is forwarded first, then
    // recorded, so bookkeeping never sits between a keystroke and its echo.
    client.on('data', (d: Buffer) => this.hooks.onInput(this, d));
    target.on('data', (d: Buffer) => this.hooks.onOutput(this, d));
    target.stderr.on('data', (d: Buffer) => this.hooks.onOutput(this, d));
    let exited = false;
    let eofPending = false;
    target.once('end', () => {
      if (exited) this.afterWrites(() => client.eof());
      else eofPending = true;
    });
    target.on('exit', (code: number | null, signal?: string, dumped?: boolean, desc?: string) => {
      exited = true;
      this.hooks.onExit(this, code !== null && code !== undefined ? String(code) : `signal ${signal ?? '?'}`);
      this.afterWrites(() => {
        try {
          if (code !== null && code !== undefined) client.exit(code);
          else if (signal) client.exit(signal.replace(/^SIG/, ''), Boolean(dumped), desc ?? '');
        } catch (err) {
          this.log.debug({ err }, 'cannot forward exit signal');
        }
        if (eofPending) client.eof();
      });
    });
    // ssh2 emits a server channel's 'close' only after its readable side ended; once the target
    // is gone nothing reads it (the pipe is undone), so drain it, or the relay never finishes.
    target.once('close', () => {
      client.resume();
      this.afterWrites(() => client.end());
    });
  }

  /**
   * Stop reading the target until `until()` settles (the recorder is behind): the SSH window
   * then fills and the target waits, instead of Warden buffering without bound.
   */
  holdOutput(until: () => Promise<void>): void {
    const t = this.target;
    if (!t) return;
    const streams = [t, t.stderr];
    if (this.held) {
      // A chunk got through (a resume and a push in one tick, before 'resume' is emitted).
      for (const s of streams) s.pause();
      return;
    }
    this.held = true;
    holdReadables(streams, until(), () => (this.held = false));
  }

  /** Run `fn` once every byte already queued for the client has been handed to ssh2. */
  private afterWrites(fn: () => void): void {
    const s = this.stream!;
    if (s.writable && s.writableLength > 0) s.write(EMPTY, () => fn());
    else fn();
  }

  /** Close this channel from Warden's side (session ending), with an exit status for exec. */
  end(status?: number): void {
    const s = this.stream;
    this.target?.close();
    if (!s || this.closed) return;
    if (status !== undefined && this.kind !== 'shell') {
      try {
        s.exit(status);
      } catch {
        /* channel already closing */
      }
    }
    if (s.writable) s.end();
    else s.close();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.resizes.dispose();
    this.target?.close();
    this.hooks.onClose(this);
  }
}
