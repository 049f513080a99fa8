/**
 * The SFTP tracker on hand-built packets: what it records, what it refuses, and that neither
 * depends on where the stream is cut into chunks (every byte boundary is tried).
 */
import { describe, expect, it } from 'vitest';
import { SftpTracker, LIMITS } from '../../src/transfers/sftp-tracker.js';
import { compileTransferPolicy, type TransferPolicyConfig } from '../../src/transfers/transfer-policy.js';
import type { TransferRecord } from '../../src/transfers/transfer-event.js';
import { FXP } from '../../src/transfers/sftp-wire.js';
import { P, packet } from '../helpers/sftp-packets.js';
import { cat, expectSplitInvariant as expectSplit, runTranscript, type Outcome, type Step, type Tracked } from '../helpers/split-harness.js';

const ALLOW: TransferPolicyConfig = { upload: true, download: true, delete: true, deny: [] };
const RD = 1;
const WR_CREAT_TRUNC = 2 | 8 | 0x10;

interface SftpOutcome extends Outcome {
  events: TransferRecord[];
}

function make(cfg: TransferPolicyConfig) {
  return (events: unknown[], abandoned: string[]): Tracked => {
    const t = new SftpTracker({ policy: compileTransferPolicy(cfg), emit: (e) => events.push(e), abandon: (w) => abandoned.push(w), now: () => 1_000 });
    return { fromClient: (d, f) => t.fromClient.push(d, f), fromTarget: (d, f) => t.fromTarget.push(d, f), close: () => t.close() };
  };
}
const run = (steps: Step[], cfg: TransferPolicyConfig) => runTranscript(steps, make(cfg)) as SftpOutcome;
const expectSplitInvariant = (steps: Step[], cfg: TransferPolicyConfig) => expectSplit(steps, make(cfg)) as SftpOutcome;

const fileData = Buffer.alloc(100, 7);

const session: Step[] = [
  ['c', P.init()], ['t', P.version()],
  ['c', P.realpath(1, '.')], ['t', P.name(1, '/home/u')],
  ['c', P.open(2, 'up.txt', WR_CREAT_TRUNC)], ['t', P.handle(2, 'H1')],
  ['c', P.write(3, 'H1', 0, fileData.subarray(0, 60))], ['c', P.write(4, 'H1', 60, fileData.subarray(60))],
  ['t', P.status(3, 0)], ['t', P.status(4, 0)],
  ['c', P.close(5, 'H1')], ['t', P.status(5, 0)],
  ['c', P.open(6, '/srv/down.bin', RD)], ['t', P.handle(6, 'H2')],
  ['c', P.fstat(7, 'H2')], ['t', P.attrsSize(7, 50)],
  ['c', P.read(8, 'H2', 0, 32768)], ['t', P.data(8, Buffer.alloc(50, 1))],
  ['c', P.read(9, 'H2', 50, 32768)], ['t', P.status(9, 1)],
  ['c', P.close(10, 'H2')], ['t', P.status(10, 0)],
  ['c', P.remove(11, 'old.log')], ['t', P.status(11, 0)],
  ['c', P.rename(12, 'a', '/tmp/b')], ['t', P.status(12, 0)],
  ['c', P.posixRename(13, 'b', 'c')], ['t', P.status(13, 0)],
  ['c', P.mkdir(14, 'd', 0o750)], ['t', P.status(14, 0)],
  ['c', P.rmdir(15, 'd')], ['t', P.status(15, 0)],
  ['c', P.open(16, 'missing', RD)], ['t', P.status(16, 2, 'No such file')],
  ['c', P.setstat(17, 'up.txt', 0o600)], ['t', P.status(17, 0)],
  ['c', P.opendir(18, '/srv')], ['t', P.handle(18, 'D1')], ['c', P.close(19, 'D1')], ['t', P.status(19, 0)],
];

describe('SFTP tracker', () => {
  it('records each operation once with path, bytes and result, at any chunking', () => {
    const out = expectSplitInvariant(session, ALLOW);
    expect(out.toTarget.equals(cat(session, 'c'))).toBe(true);
    expect(out.toClient.equals(cat(session, 't'))).toBe(true);
    expect(out.abandoned).toEqual([]);
    expect(out.events.map((e) => [e.operation, e.path, e.path2, e.bytes, e.result, e.mode])).toEqual([
      ['upload', '/home/u/up.txt', undefined, 100, 'ok', undefined],
      ['download', '/srv/down.bin', undefined, 50, 'ok', undefined],
      ['delete', '/home/u/old.log', undefined, 0, 'ok', undefined],
      ['rename', '/home/u/a', '/tmp/b', 0, 'ok', undefined],
      ['rename', '/home/u/b', '/home/u/c', 0, 'ok', undefined],
      ['mkdir', '/home/u/d', undefined, 0, 'ok', '0750'],
      ['rmdir', '/home/u/d', undefined, 0, 'ok', undefined],
      ['download', '/home/u/missing', undefined, 0, 'no_such_file', undefined],
      ['setstat', '/home/u/up.txt', undefined, 0, 'ok', '0600'],
      ['list', '/srv', undefined, 0, 'ok', undefined],
    ]);
  });

  it('a block read twice (paramiko re-requests a prefetched block) counts once: the file size, not the traffic', () => {
    const steps: Step[] = [
      ['c', P.init()], ['t', P.version()],
      ['c', P.open(1, '/srv/f.bin', RD)], ['t', P.handle(1, 'H')],
      ['c', P.read(2, 'H', 0, 100)], ['c', P.read(3, 'H', 100, 100)], ['c', P.read(4, 'H', 100, 100)],
      ['t', P.data(2, Buffer.alloc(100, 1))], ['t', P.data(3, Buffer.alloc(70, 2))], ['t', P.data(4, Buffer.alloc(70, 2))],
      ['c', P.read(5, 'H', 170, 100)], ['t', P.status(5, 1)],
      ['c', P.close(6, 'H')], ['t', P.status(6, 0)],
    ];
    const out = expectSplitInvariant(steps, ALLOW);
    expect(out.events.map((e) => [e.operation, e.bytes, e.result])).toEqual([['download', 170, 'ok']]);
  });

  it('refuses by policy: the request never reaches the target, the client reads permission denied', () => {
    const steps: Step[] = [
      ['c', P.init()], ['t', P.version()],
      ['c', P.open(1, '/x/up.txt', WR_CREAT_TRUNC)],
      ['c', P.open(2, '/x/id.key', RD)],
      ['c', P.remove(3, '/etc/passwd')],
      ['c', P.open(4, '/x/ok.txt', RD)], ['t', P.handle(4, 'H')],
    ];
    const out = expectSplitInvariant(steps, { upload: false, download: true, delete: true, deny: ['*.key', '/etc/**'] });
    // (Warden's own REALPATH: the /etc/** pattern needs the working directory.)
    expect(out.toTarget.equals(Buffer.concat([P.init(), P.realpath(0xffffff00, '.'), P.open(4, '/x/ok.txt', RD)]))).toBe(true);
    const denied = (id: number, msg: string) => P.status(id, 3, `Warden: ${msg}`);
    expect(out.toClient.equals(Buffer.concat([
      P.version(),
      denied(1, 'uploading files is not allowed on this grant'),
      denied(2, '/x/id.key matches a denied pattern (*.key)'),
      denied(3, '/etc/passwd matches a denied pattern (/etc/**)'),
      P.handle(4, 'H'),
    ]))).toBe(true);
    expect(out.events.map((e) => [e.operation, e.path, e.result])).toEqual([
      ['upload', '/x/up.txt', 'denied'], ['download', '/x/id.key', 'denied'], ['delete', '/etc/passwd', 'denied'],
      ['download', '/x/ok.txt', 'interrupted'],
    ]);
  });

  it('an upload past maxFileSize: the write is refused and the partial file removed on the target', () => {
    const steps: Step[] = [
      ['c', P.init()], ['t', P.version()],
      ['c', P.open(1, '/x/big', WR_CREAT_TRUNC)], ['t', P.handle(1, 'H')],
      ['c', P.write(2, 'H', 0, Buffer.alloc(100))], ['c', P.write(3, 'H', 100, Buffer.alloc(100))], ['c', P.write(4, 'H', 200, Buffer.alloc(10))],
      ['t', P.status(2, 0)], ['t', P.status(0xffffff00, 0)],
      ['c', P.close(5, 'H')], ['t', P.status(5, 0)],
    ];
    const out = expectSplitInvariant(steps, { ...ALLOW, maxFileSize: 150 });
    expect(out.toTarget.equals(Buffer.concat([P.init(), P.open(1, '/x/big', WR_CREAT_TRUNC), P.write(2, 'H', 0, Buffer.alloc(100)), P.remove(0xffffff00, '/x/big'), P.close(5, 'H')]))).toBe(true);
    const refusal = P.status(3, 3, 'Warden: file is larger than maxFileSize (150 bytes)');
    const refusal4 = P.status(4, 3, 'Warden: file is larger than maxFileSize (150 bytes)');
    expect(out.toClient.equals(Buffer.concat([P.version(), P.handle(1, 'H'), refusal, refusal4, P.status(2, 0), P.status(5, 0)]))).toBe(true);
    expect(out.events).toEqual([expect.objectContaining({ operation: 'upload', path: '/x/big', bytes: 100, result: 'denied' })]);
  });

  it('a download past maxFileSize: its data is replaced by a refusal', () => {
    const steps: Step[] = [
      ['c', P.init()], ['t', P.version()],
      ['c', P.open(1, '/x/big', RD)], ['t', P.handle(1, 'H')],
      ['c', P.read(2, 'H', 0, 100)], ['c', P.read(3, 'H', 100, 100)],
      ['t', P.data(2, Buffer.alloc(100, 2))], ['t', P.data(3, Buffer.alloc(100, 3))],
      ['c', P.read(4, 'H', 200, 100)],
      ['c', P.close(5, 'H')], ['t', P.status(5, 0)],
    ];
    const out = expectSplitInvariant(steps, { ...ALLOW, maxFileSize: 150 });
    const refusal = (id: number) => P.status(id, 3, 'Warden: file is larger than maxFileSize (150 bytes)');
    expect(out.toClient.equals(Buffer.concat([P.version(), P.handle(1, 'H'), P.data(2, Buffer.alloc(100, 2)), refusal(3), refusal(4), P.status(5, 0)]))).toBe(true);
    expect(out.events).toEqual([expect.objectContaining({ operation: 'download', bytes: 100, result: 'denied' })]);
  });

  it('a download whose FSTAT size is over maxFileSize is refused at its first read', () => {
    const steps: Step[] = [
      ['c', P.init()], ['t', P.version()],
      ['c', P.open(1, '/x/big', RD)], ['t', P.handle(1, 'H')],
      ['c', P.fstat(2, 'H')], ['t', P.attrsSize(2, 500)],
      ['c', P.read(3, 'H', 0, 100)],
      ['c', P.close(4, 'H')], ['t', P.status(4, 0)],
    ];
    const out = expectSplitInvariant(steps, { ...ALLOW, maxFileSize: 150 });
    expect(out.toTarget.equals(Buffer.concat([P.init(), P.open(1, '/x/big', RD), P.fstat(2, 'H'), P.close(4, 'H')]))).toBe(true);
    expect(out.events).toEqual([expect.objectContaining({ operation: 'download', bytes: 0, result: 'denied' })]);
  });

  it('asks the target for the working directory itself when deny patterns name whole paths', () => {
    const OWN = 0xffffff00;
    const steps: Step[] = [
      ['c', P.init()], ['t', P.version()],
      ['c', P.open(1, 'early.txt', RD)],
      ['t', P.name(OWN, '/home/u')],
      ['c', P.open(2, '../../etc/passwd', RD)],
      ['c', P.open(3, 'notes.txt', RD)], ['t', P.handle(3, 'H')],
    ];
    const out = expectSplitInvariant(steps, { ...ALLOW, deny: ['/etc/**'] });
    expect(out.toTarget.equals(Buffer.concat([P.init(), P.realpath(OWN, '.'), P.open(3, 'notes.txt', RD)]))).toBe(true);
    expect(out.toClient.includes(P.name(OWN, '/home/u'))).toBe(false);
    expect(out.events.map((e) => [e.path, e.result])).toEqual([['early.txt', 'denied'], ['/etc/passwd', 'denied'], ['/home/u/notes.txt', 'interrupted']]);
  });

  it('a refusal waits for the end of the packet the target is sending', () => {
    const t = new SftpTracker({ policy: compileTransferPolicy({ ...ALLOW, upload: false }), emit: () => {}, abandon: () => {} });
    const toClient: Buffer[] = [];
    const fwd = (d: Buffer) => toClient.push(Buffer.from(d));
    const data = P.data(7, Buffer.alloc(5000, 9));
    t.fromTarget.push(P.version(), fwd);
    t.fromTarget.push(data.subarray(0, 2000), fwd);
    t.fromClient.push(P.open(8, '/up', WR_CREAT_TRUNC), () => {});
    t.fromTarget.push(data.subarray(2000), fwd);
    // ... and for the end of a packet whose head is still arriving (a HANDLE: all head).
    const status = P.handle(7, 'H');
    t.fromTarget.push(status.subarray(0, 6), fwd);
    t.fromClient.push(P.open(9, '/up2', WR_CREAT_TRUNC), () => {});
    t.fromTarget.push(status.subarray(6), fwd);
    const refused = (id: number) => P.status(id, 3, 'Warden: uploading files is not allowed on this grant');
    expect(Buffer.concat(toClient).equals(Buffer.concat([P.version(), data, refused(8), status, refused(9)]))).toBe(true);
  });

  it('gives up on malformed traffic once, and every byte still passes unchanged', () => {
    const bad = Buffer.from([0, 0, 0, 2, 99, 0, 1, 2, 3]);
    const steps: Step[] = [['c', P.init()], ['t', P.version()], ['c', Buffer.concat([P.open(1, '/a', RD), bad, P.remove(2, '/b')])]];
    const out = expectSplitInvariant(steps, { ...ALLOW, upload: false });
    expect(out.toTarget.equals(cat(steps, 'c'))).toBe(true);
    expect(out.abandoned).toEqual(['client: packet length 2 out of bounds']);
  });

  it('gives up on an oversized head, a newer SFTP version, and too many outstanding requests', () => {
    const huge = packet(FXP.OPEN, 1, 'x'.repeat(LIMITS.maxHead), 1, 0);
    expect(run([['c', huge]], ALLOW).abandoned[0]).toMatch(/head/);
    expect(run([['c', P.init()], ['t', P.version(6)]], ALLOW).abandoned[0]).toMatch(/version 6/);
    const flood: Step[] = Array.from({ length: LIMITS.maxPending + 1 }, (_, i) => ['c', P.stat(i, '/x')] as Step);
    const out = run(flood, ALLOW);
    expect(out.abandoned[0]).toMatch(/outstanding/);
    expect(out.toTarget.equals(cat(flood, 'c'))).toBe(true);
  });
});
