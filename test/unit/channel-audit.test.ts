import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CommandLogEntry, RecordingJob } from '../../src/audit/audit-queues.js';
import { auditChannel } from '../../src/audit/channel-audit.js';
import type { ChannelRelay } from '../../src/channel-relay.js';

function options(record: boolean) {
  const commands: CommandLogEntry[] = [];
  const recordings: RecordingJob[] = [];
  const log = pino({ level: 'silent' });
  return {
    commands,
    recordings,
    opts: {
      sessionId: '01TESTSESSION', channel: 1, sessionStart: Date.now(), user: 'alice', asset: 'web1', account: 'deploy',
      rules: [{ deny: '^touch .*forbidden', message: 'no forbidden files' }],
      record, recordingsDir: '/nonexistent-not-used', recordInput: false,
      sink: { command: (e: CommandLogEntry) => commands.push(e), recording: (j: RecordingJob) => recordings.push(j) },
      audit: log, log, onRecordingFailed: () => {},
    },
  };
}

describe('channel audit', () => {
  it('refuses a denied exec command even when recording is disabled, and logs it', async () => {
    const { opts, commands } = options(false);
    const relay = { kind: 'exec', command: 'touch /tmp/forbidden', pty: undefined } as unknown as ChannelRelay;
    const { audit, refused } = auditChannel(relay, opts);
    expect(refused).toBe('Command refused by policy: no forbidden files');
    expect(audit?.recorder).toBeUndefined();
    expect(commands.map((c) => [c.tag, c.command])).toEqual([
      ['exec', 'touch /tmp/forbidden'],
      ['denied', 'touch /tmp/forbidden'],
    ]);
    await audit!.close();
  });

  it('installs an input gate on a filtered terminal shell that stops a denied line', async () => {
    const { opts, commands } = options(false);
    const said: string[] = [];
    const relay = { kind: 'shell', pty: { term: 'xterm', cols: 80, rows: 24 }, say: (t: string) => said.push(t) } as unknown as ChannelRelay;
    const { audit, refused } = auditChannel(relay, opts);
    expect(refused).toBeUndefined();
    // A target that echoes printable keys at once and answers Enter with a newline and a prompt.
    const sent: string[] = [];
    const target = (d: Buffer) => {
      sent.push(d.toString('latin1'));
      for (const b of d) audit!.output(Buffer.from(b === 13 ? '\r\n$ ' : b >= 0x20 && b !== 0x7f ? [b] : []));
    };
    audit!.output(Buffer.from('$ '));
    await relay.gate!(Buffer.from('touch /tmp/forbidden\r'), target);
    await relay.gate!(Buffer.from('touch /tmp/fine\r'), target);
    expect(sent).toEqual(['touch /tmp/forbidden', '\x05\x15', '\r', 'touch /tmp/fine', '\r']);
    expect(said).toEqual(['\r\nCommand refused by policy: no forbidden files\r\n']);
    expect(commands.filter((c) => c.tag).map((c) => [c.tag, c.command])).toEqual([['denied', 'touch /tmp/forbidden']]);
    await audit!.close();
    expect(commands.filter((c) => c.tag === 'denied').map((c) => c.command)).toEqual(['touch /tmp/forbidden']);
  });

  it('leaves sftp channels alone', () => {
    const { opts } = options(true);
    expect(auditChannel({ kind: 'sftp' } as unknown as ChannelRelay, opts)).toEqual({});
  });
});
