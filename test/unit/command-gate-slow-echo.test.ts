/**
 * The filter gate against a target that echoes late: a live bash in a real pty whose output is
 * held back (test/helpers/pty-shell.ts `delayMs`). The gate must judge the line as it will be
 * shown, or not send Enter at all: a denied command never runs, however late the echo; an
 * allowed one still runs. Keys are sent as one burst per line (a paste, tmux send-keys).
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CommandLogEntry } from '../../src/audit/audit-queues.js';
import { auditChannel } from '../../src/audit/channel-audit.js';
import type { ChannelRelay } from '../../src/channel-relay.js';
import { GATE_TIMING, UNVERIFIED_MESSAGE } from '../../src/commands/filter-gate.js';
import { startPtyShell, type PtyShell } from '../helpers/pty-shell.js';
import { sleep, waitUntil } from '../helpers/processes.js';

let shell: PtyShell | undefined;
afterEach(async () => {
  await shell?.stop();
  shell = undefined;
});

async function gated(delayMs: number) {
  const target = (shell = await startPtyShell({ delayMs }));
  const logged: CommandLogEntry[] = [];
  const said: string[] = [];
  const events: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'silent' });
  const audit = pino({ level: 'warn' }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
  const relay = { kind: 'shell', pty: { term: 'xterm-256color', cols: 80, rows: 24 }, say: (t: string) => said.push(t) } as unknown as ChannelRelay;
  const channel = auditChannel(relay, {
    sessionId: '01SLOW', channel: 1, sessionStart: Date.now(), user: 'alice', asset: 'web1', account: 'deploy', rules: [{ deny: 'forbidden', message: 'no forbidden files' }],
    record: false, recordingsDir: '/nonexistent-not-used', recordInput: false,
    sink: { command: (e) => logged.push(e), recording: () => {} }, audit, log, onRecordingFailed: () => {},
  }).audit!;
  target.onOutput((d) => channel.output(d));
  const send = async (text: string) => {
    const data = Buffer.from(text);
    channel.input(data);
    await relay.gate!(data, (d) => target.write(d));
  };
  const ran = (name: string) => existsSync(`${target.dir}/${name}`);
  const tags = () => logged.map((e) => (e.tag ? `${e.tag}: ${e.command}` : e.command));
  return { target, send, ran, said, events, tags, close: () => channel.close() };
}

describe('filter gate under a slow echo', () => {
  it('waits for a late echo, then refuses the denied line and runs the allowed one', async () => {
    // Later than the old fixed 300 ms wait, well within the gate's echo wait.
    const g = await gated(700);
    await g.send('touch made-forbidden-1\r');
    await g.send('touch made-allowed-1\r');
    await waitUntil('allowed command ran', async () => g.ran('made-allowed-1'), { timeoutMs: 15_000 });
    await g.target.quiet(1_000);
    expect(g.ran('made-forbidden-1')).toBe(false);
    expect(g.said.join('')).toContain('Command refused by policy: no forbidden files');
    expect(g.tags()).toContain('denied: touch made-forbidden-1');
    await g.close();
  }, 60_000);

  it('withholds Enter when the echo does not come in time, and never runs the denied line', async () => {
    const g = await gated(GATE_TIMING.echoWaitMs + 1_500);
    await g.send('touch late-forbidden-2\r');
    expect(g.said).toEqual([UNVERIFIED_MESSAGE]);
    expect(g.tags()).toEqual(['unverified: ']);
    expect(g.events.find((e) => e.event === 'command_unverified')).toMatchObject({ session: '01SLOW', why: 'nothing was echoed' });
    // The line stays on the target, unsubmitted: once it shows, Enter again is judged on it.
    await waitUntil('line echoed', async () => g.target.output().includes('touch late-forbidden-2'), { timeoutMs: 15_000 });
    await g.send('\r');
    expect(g.said.join('')).toContain('Command refused by policy');
    // An allowed line fails closed the same way, then runs on the second Enter.
    await g.send('touch late-allowed-2\r');
    expect(g.said.filter((t) => t === UNVERIFIED_MESSAGE)).toHaveLength(2);
    await waitUntil('line echoed', async () => g.target.output().includes('touch late-allowed-2'), { timeoutMs: 15_000 });
    await g.send('\r');
    await waitUntil('allowed command ran', async () => g.ran('late-allowed-2'), { timeoutMs: 15_000 });
    await g.target.quiet(GATE_TIMING.echoWaitMs + 2_000);
    expect(g.ran('late-forbidden-2')).toBe(false);
    await g.close();
  }, 90_000);

  it('lets a secret through to a prompt that does not echo, and a healthy target is not held', async () => {
    const g = await gated(0);
    await g.send("read -s -p 'Password: ' pw; echo; echo got-${#pw}\r");
    await waitUntil('password prompt', async () => g.target.output().includes('Password: '), { timeoutMs: 15_000 });
    await sleep(100);
    await g.send('hunter2\r');
    await waitUntil('secret read', async () => g.target.output().includes('got-7'), { timeoutMs: 15_000 });
    await g.send('touch healthy-3\r');
    await waitUntil('command ran', async () => g.ran('healthy-3'), { timeoutMs: 15_000 });
    expect(g.said).toEqual([]);
    await g.close();
    expect(JSON.stringify(g.tags())).not.toContain('hunter2');
  }, 60_000);
});
