/**
 * The command filter's hold on Enter, for a terminal shell on a grant with rules.
 *
 * Bytes up to each Enter go through at once (and to the command tracker, in step with what
 * reaches the target). At Enter the line is judged as the screen shows it, but only once the
 * screen can be trusted to show it: the echo of every key typed so far must have arrived. The
 * tracker knows what the keys should display (key-line.ts), so on a healthy target a line
 * typed key by key is judged at once, and a paste or a burst as soon as its echo is in. A line
 * that cannot be read with confidence before the deadline (a target slow to echo, a partial
 * echo) is not sent: Enter is withheld, the rest of the chunk dropped, the user told, and the
 * event audited. Judging an empty or half-echoed line instead would let a denied command typed
 * at a slow target run.
 *
 * One exception keeps password prompts working: when nothing at all is echoed and the line
 * does not start at the shell's prompt (known from earlier echoed lines), the keys went to a
 * program that reads without echo (`sudo`, `read -s`); after a quiet spell that line is let
 * through as what it shows, an empty line.
 */
import type { Logger } from '../logger.js';
import { withTimeout } from '../timeout.js';
import type { CommandFilter } from './command-filter.js';
import type { LineState } from './command-tracker.js';

export type Forward = (data: Buffer) => void;

/** What the gate needs of the command tracker. */
export interface LineSource {
  input(data: Buffer): void;
  flush(): Promise<void>;
  lineState(): LineState;
}

export interface GateHooks {
  denied(line: string, message: string, pattern: string): void;
  warned(line: string, pattern: string): void;
  /** A line withheld because it could not be read with confidence. */
  unverified(line: string, why: string): void;
  log: Logger;
}

export interface GateTiming {
  /** Longest wait for the echo before failing closed. */
  echoWaitMs: number;
  /** A line the keys do not determine (Tab, history) must stay unchanged this long. */
  settleMs: number;
  /** Nothing echoed at a prompt other than the shell's for this long: a no-echo prompt. */
  noEchoQuietMs: number;
  pollMs: number;
}

export const GATE_TIMING: GateTiming = { echoWaitMs: 1_500, settleMs: 150, noEchoQuietMs: 400, pollMs: 15 };

/** Bash readline and the tty line discipline both clear the line on Ctrl-E Ctrl-U. */
const CLEAR_LINE = Buffer.from('\x05\x15');
const ENTER = Buffer.from('\r');
/** The input path must never hang on the emulator. */
const JUDGE_TIMEOUT_MS = 5_000;

export const UNVERIFIED_MESSAGE = '\r\nWarden could not read this line from the screen in time to check it against the policy, so Enter was not sent. Press Enter again once the line is shown.\r\n';

type Reading = { line: string } | { why: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FilterGate {
  constructor(
    private readonly tracker: LineSource,
    private readonly filter: CommandFilter,
    private readonly hooks: GateHooks,
    private readonly timing: GateTiming = GATE_TIMING,
  ) {}

  gate(data: Buffer, forward: Forward, say: (text: string) => void): void | Promise<void> {
    const pass: Forward = (d) => {
      this.tracker.input(d);
      forward(d);
    };
    if (data.indexOf(13) < 0) {
      pass(data);
      return;
    }
    return this.atEnter(data, pass, say);
  }

  private async atEnter(data: Buffer, forward: Forward, say: (text: string) => void): Promise<void> {
    let start = 0;
    for (let cr = data.indexOf(13); cr >= 0; cr = data.indexOf(13, start)) {
      if (cr > start) forward(data.subarray(start, cr));
      start = cr + 1;
      const reading = (await withTimeout(this.read(), JUDGE_TIMEOUT_MS)) ?? { why: 'the terminal emulator did not answer' };
      if ('why' in reading) {
        // Fail closed: the line stays unsubmitted on the target, and keys typed after this
        // Enter would extend a line nobody has read, so they are dropped too.
        say(UNVERIFIED_MESSAGE);
        this.hooks.unverified(this.tracker.lineState().line, reading.why);
        return;
      }
      const verdict = this.filter.check(reading.line);
      this.hooks.log.debug({ verdict: verdict.action }, 'command filter at Enter');
      if (verdict.action === 'deny') {
        forward(CLEAR_LINE);
        say(`\r\nCommand refused by policy: ${verdict.message}\r\n`);
        this.hooks.denied(reading.line, verdict.message, verdict.rule.pattern);
      } else if (verdict.action === 'warn') {
        this.hooks.warned(reading.line, verdict.rule.pattern);
      }
      forward(ENTER);
    }
    if (start < data.length) forward(data.subarray(start));
  }

  /** The line once its echo is in, or why it cannot be read (see the module comment). */
  private async read(): Promise<Reading> {
    const { echoWaitMs, settleMs, noEchoQuietMs, pollMs } = this.timing;
    const t = this.tracker;
    const begun = Date.now();
    let last: string | undefined;
    let changed = begun;
    for (;;) {
      await t.flush();
      const s = t.lineState();
      const now = Date.now();
      if (s.line !== last) [last, changed] = [s.line, now];
      if (s.echo === 'matches') return { line: s.line };
      if (s.echo === 'unknown' && now - changed >= settleMs) return { line: s.line };
      if (s.echo === 'none' && s.atKnownPrompt === false && now - changed >= noEchoQuietMs) return { line: '' };
      if (now - begun >= echoWaitMs) return { why: s.echo === 'none' ? 'nothing was echoed' : 'the echo was incomplete' };
      await sleep(pollMs);
    }
  }
}
