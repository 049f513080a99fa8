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

  it('installs the input gate on a filtered terminal shell', async () => {
    const { opts } = options(false);
    const relay = { kind: 'shell', pty: { term: 'xterm', cols: 80, rows: 24 }, say: () => {} } as unknown as ChannelRelay;
    const { audit, refused } = auditChannel(relay, opts);
    expect(refused).toBeUndefined();
    expect(relay.gate).toBeTypeOf('function');
    await audit!.close();
  });

  it('leaves sftp channels alone', () => {
    const { opts } = options(true);
    expect(auditChannel({ kind: 'sftp' } as unknown as ChannelRelay, opts)).toEqual({});
  });
});
