/**
 * The edits corpus against a live bash in a real pty (test/helpers/pty-shell.ts), through the
 * channel audit exactly as the relay drives it: with no rules (keys go straight to the target,
 * the tracker reads the screen on its own) and with rules (the filter gate holds each Enter
 * until the line's echo is in). Each corpus entry is typed key by key and as one burst per
 * line; the command log must be the same in all four cases.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CommandLogEntry } from '../../src/audit/audit-queues.js';
import { auditChannel } from '../../src/audit/channel-audit.js';
import type { ChannelRelay } from '../../src/channel-relay.js';
import type { Rule } from '../../src/commands/command-filter.js';
import { startPtyShell, type PtyShell } from '../helpers/pty-shell.js';
import { waitUntil } from '../helpers/processes.js';

const BS = '\x7f';
const LEFT = '\x1bOD';
const RIGHT = '\x1b[C';
const TAB = '\t';

/** Same lines as record.py's EDITS, and the commands they must log. */
const CORPUS: Record<string, { lines: string[]; logged: string[] }> = {
  backspace: { lines: [`echo deltX${BS}a\r`], logged: ['echo delta'] },
  arrows: { lines: [`echo wrld${LEFT.repeat(3)}o${RIGHT.repeat(3)}.\r`], logged: ['echo world.'] },
  'home-end': {
    lines: ['cho x\x1b[He\x1b[F y\r', 'cho z\x01e\x05 w\r', 'cho v\x1bOHe\x1bOF u\r'],
    logged: ['echo x y', 'echo z w', 'echo v u'],
  },
  'ctrl-u': { lines: ['echo wrong\x15echo right\r', 'echo erased-line\x15\r'], logged: ['echo right'] },
  'ctrl-w': { lines: ['echo one two\x17three\r'], logged: ['echo one three'] },
  'ctrl-k': { lines: [`echo keep drop${LEFT.repeat(5)}\x0b\r`], logged: ['echo keep'] },
  'ctrl-r': { lines: ['echo first-entry\r', 'echo other\r', '\x12first-e\r'], logged: ['echo first-entry', 'echo other', 'echo first-entry'] },
  'tab-single': { lines: [`cat warden-n${TAB}\r`], logged: ['cat warden-notes.txt'] },
  'tab-multiple': { lines: [`ls warden-${TAB}${TAB}p${TAB}\r`], logged: ['ls warden-plan.txt'] },
  // Typed while `sleep` runs, Enter after the prompt is back (the tty echoes the keys, then the
  // prompt and readline's redraw follow on the same row).
  'type-ahead': { lines: ['sleep 1\recho next', '\r'], logged: ['sleep 1', 'echo next'] },
  'long-edit': {
    lines: [`echo ${'abcdefghij'.repeat(9)}X${BS} end\x1b[H${RIGHT.repeat(5)}\x0bwrapped ${'0123456789'.repeat(8)}\r`],
    logged: [`echo wrapped ${'0123456789'.repeat(8)}`],
  },
};

/** One chunk per key, escape sequences whole, as a terminal sends them. */
function splitKeys(text: string): string[] {
  return text.match(/\x1b[[O][\d;]*[\x40-\x7e]|[\s\S]/g) ?? [];
}

let shell: PtyShell | undefined;
afterEach(async () => {
  await shell?.stop();
  shell = undefined;
});

/** Types every corpus entry into one shell, each followed by a sentinel line; returns the log
 *  split per entry at the sentinels. */
async function typeCorpus(mode: 'keys' | 'burst', rules: Rule[]): Promise<Record<string, string[]>> {
  shell = await startPtyShell();
  const logged: CommandLogEntry[] = [];
  const log = pino({ level: 'silent' });
  const relay = { kind: 'shell', pty: { term: 'xterm-256color', cols: 80, rows: 24 }, say: () => {} } as unknown as ChannelRelay;
  const { audit } = auditChannel(relay, {
    sessionId: '01LIVE', channel: 1, sessionStart: Date.now(), user: 'alice', asset: 'web1', account: 'deploy', rules, record: false,
    recordingsDir: '/nonexistent-not-used', recordInput: false,
    sink: { command: (e) => logged.push(e), recording: () => {} }, audit: log, log, onRecordingFailed: () => {},
  });
  expect(relay.gate !== undefined).toBe(rules.length > 0); // the path under test is the one meant
  const target = shell;
  target.onOutput((d) => audit!.output(d));
  const send = async (chunk: string) => {
    const data = Buffer.from(chunk);
    audit!.input(data); // what the relay's onInput hook does for every chunk
    if (relay.gate) await relay.gate(data, (d) => target.write(d));
    else target.write(data);
  };
  // Each line starts once the shell is back at its prompt, as a person types: bash turns
  // bracketed paste on each time readline starts reading a line. (Keys typed while a command
  // still runs go to the tty's own line editing, where Ctrl-R reprints the line instead of
  // searching history: the type-ahead entry is the only one typed that way, on purpose.)
  /** What the log and the screen hold, for a timeout's message. */
  const seen = () => JSON.stringify({ logged: logged.map((e) => e.command), screenTail: target.output().slice(-400) });
  let enters = 0;
  const prompts = () => target.output().split('\x1b[?2004h').length - 1;
  const atPrompt = () =>
    waitUntil('the shell is back at its prompt', async () => prompts() > enters, {
      timeoutMs: 15_000, details: seen,
    });
  const names = Object.keys(CORPUS);
  for (const [n, name] of names.entries()) {
    for (const line of CORPUS[name]!.lines) {
      await atPrompt();
      for (const chunk of mode === 'keys' ? splitKeys(line) : [line]) {
        await send(chunk);
        enters += chunk.split('\r').length - 1;
        await target.quiet(30);
      }
    }
    // A sentinel line closes the entry; the shell running it proves it took the keys.
    await atPrompt();
    await send(`echo sentinel-${n}\r`);
    enters++;
    await waitUntil(`sentinel ${n} ran`, async () => target.output().includes(`\rsentinel-${n}\r\n`), {
      timeoutMs: 15_000, details: seen,
    });
  }
  await send('x'); // releases the last held entry
  await waitUntil('last sentinel logged', async () => logged.some((e) => e.command === `echo sentinel-${names.length - 1}`), {
    timeoutMs: 15_000, details: () => JSON.stringify(logged.map((e) => e.command)),
  });
  await audit!.close();
  const perEntry: Record<string, string[]> = {};
  let n = 0;
  for (const e of logged) {
    if (e.command === `echo sentinel-${n}`) n++;
    else (perEntry[names[n]!] ??= []).push(e.tag ? `${e.tag}: ${e.command}` : e.command);
  }
  return perEntry;
}

describe('edits corpus on a live bash, logged exactly with and without rules', () => {
  const expected = Object.fromEntries(Object.entries(CORPUS).map(([name, { logged }]) => [name, logged]));
  // A rule none of the corpus matches: it only makes the gate hold each Enter.
  for (const [label, rules] of [['no rules', []], ['with rules', [{ deny: 'never-matches-anything' }]]] as Array<[string, Rule[]]>) {
    for (const mode of ['keys', 'burst'] as const) {
      it(`typed as ${mode}, ${label}`, async () => {
        expect(await typeCorpus(mode, rules)).toEqual(expected);
      }, 120_000);
    }
  }
});
