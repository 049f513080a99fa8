/**
 * The target menu shown to a user who logged in without naming a target: a numbered list of
 * grants; typing text filters it, a number picks, `q` quits. Pure: it takes lines and
 * returns what to print and what was decided.
 */
import type { Permission } from './grants.js';
import { printable } from './text.js';

export type MenuStep =
  | { kind: 'show'; text: string }
  | { kind: 'pick'; permission: Permission; text: string }
  | { kind: 'quit'; text: string };

export class TargetMenu {
  private shown: Permission[];

  constructor(
    private readonly user: string,
    private readonly all: Permission[],
  ) {
    this.shown = all;
  }

  /** First screen; a single grant is picked at once. */
  start(): MenuStep {
    if (this.all.length === 1) return this.pick(this.all[0]!);
    return { kind: 'show', text: this.render(`Hello ${printable(this.user, 64)}. Choose a target:`) };
  }

  line(input: string): MenuStep {
    const text = input.trim();
    if (text === 'q' || text === 'quit' || text === 'exit') return { kind: 'quit', text: 'Bye.\r\n' };
    if (/^\d+$/.test(text)) {
      const chosen = this.shown[Number(text) - 1];
      return chosen ? this.pick(chosen) : { kind: 'show', text: `No entry ${text}.\r\n${this.prompt()}` };
    }
    const needle = text.toLowerCase();
    const filtered = needle
      ? this.all.filter((p) => `${p.asset} ${p.account} ${p.host}`.toLowerCase().includes(needle))
      : this.all;
    if (filtered.length === 1) return this.pick(filtered[0]!);
    if (filtered.length === 0) return { kind: 'show', text: `Nothing matches "${printable(text, 64)}".\r\n${this.prompt()}` };
    this.shown = filtered;
    return { kind: 'show', text: this.render(needle ? `${filtered.length} matches:` : 'All targets:') };
  }

  private pick(p: Permission): MenuStep {
    return { kind: 'pick', permission: p, text: `Connecting to ${p.account}@${p.asset} (${p.host}:${p.port}) ...\r\n` };
  }

  private render(title: string): string {
    const width = String(this.shown.length).length;
    const rows = this.shown.map(
      (p, i) => `  ${String(i + 1).padStart(width)}  ${p.asset.padEnd(16)} ${p.account.padEnd(12)} ${p.host}:${p.port}`,
    );
    return `${title}\r\n${rows.join('\r\n')}\r\n${this.prompt()}`;
  }

  private prompt(): string {
    return 'Number to connect, text to filter, q to quit> ';
  }
}

/**
 * Minimal line editing for the menu on a raw pty: echo, backspace, Ctrl-C/Ctrl-D, Enter.
 * Escape sequences (arrows) are swallowed rather than echoed.
 */
export class LineReader {
  private buf = '';
  private inEscape = false;

  constructor(
    private readonly echo: (text: string) => void,
    private readonly onLine: (line: string) => void,
    private readonly onCancel: () => void,
  ) {}

  feed(data: Buffer): void {
    for (const ch of data.toString('utf8')) {
      if (this.inEscape) {
        if (/[A-Za-z~]/.test(ch)) this.inEscape = false;
        continue;
      }
      if (ch === '\x1b') this.inEscape = true;
      else if (ch === '\r' || ch === '\n') {
        const line = this.buf;
        this.buf = '';
        this.echo('\r\n');
        this.onLine(line);
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.buf.length) {
          this.buf = this.buf.slice(0, -1);
          this.echo('\b \b');
        }
      } else if (ch === '\x03' || ch === '\x04') {
        this.onCancel();
        return;
      } else if (ch >= ' ' && this.buf.length < 256) {
        this.buf += ch;
        this.echo(ch);
      }
    }
  }
}

/**
 * Run the menu on a client channel until the user picks a target or quits. On a pick the
 * stream is paused: keys typed from then on belong to the target's shell and stay buffered
 * until the relay pipes the stream.
 */
export function runMenu(
  stream: NodeJS.ReadWriteStream,
  user: string,
  choices: Permission[],
  on: { onPick(p: Permission): void; onQuit(): void },
): void {
  const menu = new TargetMenu(user, choices);
  const step = (s: MenuStep) => {
    stream.write(s.text);
    if (s.kind === 'quit') on.onQuit();
    if (s.kind === 'pick') {
      stream.removeListener('data', onData);
      stream.pause();
      on.onPick(s.permission);
    }
  };
  const reader = new LineReader((t) => stream.write(t), (line) => step(menu.line(line)), () => step({ kind: 'quit', text: '\r\n' }));
  const onData = (d: Buffer) => reader.feed(d);
  stream.on('data', onData);
  step(menu.start());
}
