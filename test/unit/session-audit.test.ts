import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CommandLogEntry, RecordingJob } from '../../src/audit/audit-queues.js';
import { auditChannel } from '../../src/audit/session-audit.js';
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

  it('gates a filtered terminal shell: an allowed line runs, a denied one is cleared and never entered', async () => {
    const { opts, commands } = options(false);
    const said: string[] = [];
    const relay = { kind: 'shell', pty: { term: 'xterm', cols: 80, rows: 24 }, say: (t: string) => said.push(t) } as unknown as ChannelRelay;
    const { audit, refused } = auditChannel(relay, opts);
    expect(refused).toBeUndefined();
    // A stand-in for bash at its prompt: echoes what reaches it, runs a line at Enter, and
    // clears the line on Ctrl-E Ctrl-U. `ran` is what the target executed.
    const ran: string[] = [];
    let line = '';
    const prompt = () => audit!.output(Buffer.from('$ '));
    const target = (d: Buffer) => {
      for (const ch of d.toString('latin1')) {
        if (ch === '\r') {
          ran.push(line);
          line = '';
          audit!.output(Buffer.from('\r\n'));
          prompt();
        } else if (ch === '\x15') {
          audit!.output(Buffer.from(`\r\x1b[K$ `));
          line = '';
        } else if (ch >= ' ') {
          line += ch;
          audit!.output(Buffer.from(ch));
        }
      }
    };
    prompt();
    const type = async (text: string) => {
      for (const key of [...text]) await relay.gate!(Buffer.from(key), target);
    };

    await type('echo fine\r');
    await type('touch /tmp/forbidden\r');
    expect(ran).toEqual(['echo fine', '']);
    expect(said.join('')).toContain('Command refused by policy: no forbidden files');
    await audit!.close();
    expect(commands.filter((c) => c.tag === 'denied').map((c) => c.command)).toEqual(['touch /tmp/forbidden']);
  });

  it('leaves sftp channels alone', () => {
    const { opts } = options(true);
    expect(auditChannel({ kind: 'sftp' } as unknown as ChannelRelay, opts)).toEqual({});
  });
});
