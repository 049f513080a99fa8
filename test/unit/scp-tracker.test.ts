/**
 * The legacy scp tracker on hand-written protocol transcripts, at every chunking: what it
 * records, what it refuses (the receiver never sees it), and bytes held until an ack decides.
 */
import { describe, expect, it } from 'vitest';
import { ScpTracker } from '../../src/transfers/scp-tracker.js';
import { parseScpCommand, type ScpCommand } from '../../src/transfers/scp-command.js';
import { compileTransferPolicy, type TransferPolicyConfig } from '../../src/transfers/transfer-policy.js';
import type { TransferRecord } from '../../src/transfers/transfer-event.js';
import { cat, expectSplitInvariant, type Step, type Tracked } from '../helpers/split-harness.js';

const ALLOW: TransferPolicyConfig = { upload: true, download: true, delete: true, deny: [] };
const b = (s: string) => Buffer.from(s, 'latin1');
const OK = b('\0');

function make(command: ScpCommand, cfg: TransferPolicyConfig) {
  return (events: unknown[], abandoned: string[]): Tracked => {
    const t = new ScpTracker({ command, policy: compileTransferPolicy(cfg), emit: (e) => events.push(e), abandon: (w) => abandoned.push(w), now: () => 5 });
    return { fromClient: (d, f) => t.fromClient(d, f), fromTarget: (d, f) => t.fromTarget(d, f), close: () => t.close() };
  };
}
const summary = (events: unknown[]) => (events as TransferRecord[]).map((e) => [e.operation, e.path, e.bytes, e.result]);

describe('scp command line', () => {
  it('recognises OpenSSH legacy scp sink and source commands, nothing else', () => {
    expect(parseScpCommand('scp -t /tmp/x')).toEqual({ mode: 'upload', path: '/tmp/x', dir: false });
    expect(parseScpCommand('scp -v -r -d -t -- /srv/dir')).toEqual({ mode: 'upload', path: '/srv/dir', dir: true });
    expect(parseScpCommand("scp -f '/tmp/a b'")).toEqual({ mode: 'download', path: '/tmp/a b', dir: false });
    expect(parseScpCommand('scp -t -f x')).toBeUndefined();
    expect(parseScpCommand('scpx -t x')).toBeUndefined();
    expect(parseScpCommand('ls -t')).toBeUndefined();
  });
});

describe('scp tracker', () => {
  it('an upload: each file and directory once, bytes unchanged, at any chunking', () => {
    const steps: Step[] = [
      ['t', OK],
      ['c', b('C0644 5 a.txt\n')], ['t', OK], ['c', b('hello\0')], ['t', OK],
      ['c', b('D0755 0 sub\n')], ['t', OK],
      ['c', b('T1 0 1 0\n')], ['t', OK],
      ['c', b('C0600 0 empty\n')], ['t', OK], ['c', b('\0')], ['t', OK],
      ['c', b('E\n')], ['t', OK],
      ['c', b('C0644 3 fail.txt\n')], ['t', b('\x01scp: fail.txt: Permission denied\n')],
    ];
    const out = expectSplitInvariant(steps, make({ mode: 'upload', path: '/dst', dir: true }, ALLOW));
    expect(out.toTarget.equals(cat(steps, 'c'))).toBe(true);
    expect(out.toClient.equals(cat(steps, 't'))).toBe(true);
    expect(summary(out.events)).toEqual([
      ['upload', '/dst/a.txt', 5, 'ok'],
      ['mkdir', '/dst/sub', 0, 'ok'],
      ['upload', '/dst/sub/empty', 0, 'ok'],
      ['upload', '/dst/fail.txt', 0, 'error'],
    ]);
  });

  it('a refused upload: its line never reaches the target, the client reads why, the next file goes on', () => {
    const steps: Step[] = [
      ['t', OK],
      ['c', b('C0600 3 id.key\n')],
      ['c', b('C0644 200 big\n')],
      ['c', b('C0644 2 ok\n')], ['t', OK], ['c', b('hi\0')], ['t', OK],
    ];
    const out = expectSplitInvariant(steps, make({ mode: 'upload', path: '/dst/', dir: false }, { ...ALLOW, deny: ['*.key'], maxFileSize: 100 }));
    expect(out.toTarget.equals(b('C0644 2 ok\nhi\0'))).toBe(true);
    expect(out.toClient.toString('latin1')).toBe('\0\x01Warden: /dst/id.key matches a denied pattern (*.key)\n\x01Warden: /dst/big is larger than maxFileSize (100 bytes)\n\0\0');
    expect(summary(out.events)).toEqual([['upload', '/dst/id.key', 0, 'denied'], ['upload', '/dst/big', 0, 'denied'], ['upload', '/dst/ok', 2, 'ok']]);
  });

  it('bytes sent before a file is acknowledged wait for the ack: refused, they are read as the next line', () => {
    // A client that does not wait: if the target refuses a.txt, "C0644 3 b.key\n" is a
    // control line, not file data, and the deny rule must see it.
    const steps: Step[] = [
      ['t', OK],
      ['c', b('C0644 14 a.txt\nC0644 3 b.key\n')],
      ['t', b('\x01scp: a.txt: Permission denied\n')],
    ];
    const out = expectSplitInvariant(steps, make({ mode: 'upload', path: '/dst', dir: true }, { ...ALLOW, deny: ['*.key'] }));
    expect(out.toTarget.toString('latin1')).toBe('C0644 14 a.txt\n');
    expect(summary(out.events)).toEqual([['upload', '/dst/a.txt', 0, 'error'], ['upload', '/dst/b.key', 0, 'denied']]);
  });

  it('a download: the file, and the source reporting a missing one', () => {
    const steps: Step[] = [
      ['c', OK],
      ['t', b('C0644 4 f.bin\n')], ['c', OK], ['t', b('data\0')], ['c', OK],
      ['t', b('\x01scp: /src/nope: No such file or directory\n')],
    ];
    const out = expectSplitInvariant(steps, make({ mode: 'download', path: '/src/f.bin', dir: false }, ALLOW));
    expect(out.toClient.equals(cat(steps, 't'))).toBe(true);
    expect(summary(out.events)).toEqual([['download', '/src/f.bin', 4, 'ok'], ['download', '/src/f.bin', 0, 'error']]);
  });

  it('gives up on a malformed stream, passing every byte', () => {
    const steps: Step[] = [['t', OK], ['c', b('Zgarbage\nC0644 1 x.key\n')]];
    const out = expectSplitInvariant(steps, make({ mode: 'upload', path: '/d', dir: true }, ALLOW));
    expect(out.toTarget.equals(cat(steps, 'c'))).toBe(true);
    expect(out.abandoned).toEqual(['unknown scp control line "Z"']);
  });
});
