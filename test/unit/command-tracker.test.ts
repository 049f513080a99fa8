/**
 * Replays the golden transcripts recorded from a real bash in a real pty
 * (test/fixtures/terminal/record.py) into CommandTracker and checks the exact command list.
 *
 * The edits corpus (`<edit>-keys` and `<edit>-burst`, see record.py) is recorded both key by key
 * and as one chunk per line, Enter included, so in the burst recordings the keys really do reach
 * the tracker before their echo, as they do through Warden with no filter holding Enter.
 *
 * Each fixture is replayed three ways, which must agree:
 *  - step:  wait for the emulator after every chunk (the order a live session normally has);
 *  - burst: feed everything without waiting (the tracker's own queue must keep the order);
 *  - lag:   every output chunk delayed 100 ms behind the keys, as over a slow target link, so
 *           echoes (and Enter's newline) arrive after the user has typed further.
 */
import { describe, expect, it } from 'vitest';
import { CommandTracker, type CommandEntry } from '../../src/commands/command-tracker.js';
import { EXPECTED as GOLDEN, load, type Event, type Fixture } from '../helpers/terminal-fixtures.js';

type Mode = 'step' | 'burst' | 'lag';

function lagged(events: Event[], ms: number): Event[] {
  return events
    .map((e, i) => ({ e: [e[0], e[0] === 'o' ? e[1] + ms : e[1], e[2]] as Event, i }))
    .sort((a, b) => a.e[1] - b.e[1] || a.i - b.i)
    .map((x) => x.e);
}

async function replay(fx: Fixture, mode: Mode, opts: { untilInput?: number } = {}) {
  let clock = 0;
  const entries: CommandEntry[] = [];
  const tracker = new CommandTracker({ cols: fx.cols, rows: fx.rows, now: () => clock, onCommand: (e) => entries.push(e) });
  const events = mode === 'lag' ? lagged(fx.events, 100) : fx.events;
  let inputs = 0;
  for (const [dir, t, text] of events) {
    if (dir === 'i' && opts.untilInput !== undefined && inputs++ === opts.untilInput) break;
    clock = t;
    if (dir === 'o') tracker.output(Buffer.from(text));
    else tracker.input(Buffer.from(text));
    if (mode === 'step') await tracker.flush();
  }
  await tracker.flush();
  return { tracker, entries };
}

async function commands(name: string, mode: Mode): Promise<CommandEntry[]> {
  const { tracker, entries } = await replay(load(name), mode);
  tracker.dispose();
  return entries;
}

/** The golden transcripts, plus the edits corpus below. */
const EXPECTED = { ...GOLDEN };

/** The edits corpus (record.py EDITS): each recorded typed key by key and as one burst per line. */
const EDITS: Record<string, string[]> = {
  backspace: ['echo delta'],
  arrows: ['echo world.'],
  'home-end': ['echo x y', 'echo z w', 'echo v u'],
  // The line erased with Ctrl-U before Enter is never logged.
  'ctrl-u': ['echo right'],
  'ctrl-w': ['echo one three'],
  'ctrl-k': ['echo keep'],
  'ctrl-r': ['echo first-entry', 'echo other', 'echo first-entry'],
  'tab-single': ['cat warden-notes.txt'],
  'tab-multiple': ['ls warden-plan.txt'],
  'long-edit': [`echo wrapped ${'0123456789'.repeat(8)}`],
};
for (const [name, expected] of Object.entries(EDITS)) {
  EXPECTED[`${name}-keys`] = expected;
  EXPECTED[`${name}-burst`] = expected;
}
EXPECTED['edits-one-chunk'] = ['echo delta', 'echo world.', 'echo right', 'echo one three', 'echo keep'];

describe('CommandTracker on recorded bash sessions', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    for (const mode of ['step', 'burst', 'lag'] as const) {
      it(`${name} (${mode})`, async () => {
        const got = (await commands(name, mode)).map(({ command, fullscreen }) =>
          fullscreen ? { command, fullscreen } : command,
        );
        expect(got).toEqual(expected);
      });
    }
  }

  it('stamps each command with the time Enter arrived', async () => {
    const entries = await commands('plain', 'burst');
    const enter = load('plain').events.find(([dir, , text]) => dir === 'i' && text === '\r');
    expect(entries.map((e) => e.at)).toEqual([enter?.[1]]);
  });

  it('never logs a secret typed at a no-echo prompt, even when a program prints it', async () => {
    for (const name of ['password', 'secret-shown', 'secret-echoed']) {
      for (const mode of ['step', 'burst', 'lag'] as const) {
        const logged = JSON.stringify(await commands(name, mode));
        expect(logged).not.toMatch(/hunter2|4242/);
      }
    }
    // The secret really is on the screen in two of them: the check above is not vacuous.
    expect(load('secret-shown').events.some(([dir, , text]) => dir === 'o' && text.includes('[hunter2]'))).toBe(true);
    expect(load('secret-echoed').events.some(([dir, , text]) => dir === 'o' && text.startsWith('hunter2'))).toBe(true);
  });

  it('currentLine() shows the edited line without prompt before Enter', async () => {
    const fx = load('edit');
    const enterIndex = fx.events.filter(([d]) => d === 'i').findIndex(([, , text]) => text === '\r');
    const { tracker, entries } = await replay(fx, 'step', { untilInput: enterIndex });
    expect(tracker.currentLine()).toBe('echo hello world');
    expect(entries).toEqual([]);
    tracker.dispose();
  });

  it('currentLine() is empty at a no-echo prompt while the secret is typed', async () => {
    const fx = load('password');
    const inputs = fx.events.filter(([d]) => d === 'i');
    // Stop right before the Enter that submits "hunter2".
    const secretEnter = inputs.findIndex(([, , text], i) => text === '\r' && inputs[i - 1]?.[2] === '2');
    const { tracker } = await replay(fx, 'step', { untilInput: secretEnter });
    expect(tracker.currentLine()).toBe('');
    tracker.dispose();
  });
});
