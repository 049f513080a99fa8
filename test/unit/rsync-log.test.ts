/**
 * rsync's per-file log read out of the target's stderr: the command rewrite, the line filter
 * at every chunking (entries found, everything else forwarded unchanged and in order, nothing
 * forged by names or unmarked lines, memory bounded), and paths made from the command line.
 */
import { describe, expect, it } from 'vitest';
import { parseRsyncCommand, withFileLog } from '../../src/transfers/rsync-command.js';
import { MAX_LOG_LINE, RsyncLogFilter, unescapeName, type RsyncLogEntry } from '../../src/transfers/rsync-log.js';
import { receiverPath, senderPath, watchRsync } from '../../src/transfers/rsync-run.js';
import { compileTransferPolicy } from '../../src/transfers/transfer-policy.js';
import type { ChannelRelay } from '../../src/channel-relay.js';
import type { TransferRecord } from '../../src/transfers/transfer-event.js';

const M = 'warden-0123abcd';
const P = '2026/12/01 23:58:05 [28056] ';

describe('rsync command line', () => {
  it('reads the server end rsync sends, with escaped paths', () => {
    expect(parseRsyncCommand('rsync --server -logDtpre.iLsfxCIvu . /tmp/dst/', { pty: false })).toEqual({ sender: false, paths: ['/tmp/dst/'] });
    expect(parseRsyncCommand('rsync --server --sender -logDtpre.iLsfxCIvu . /a\\ b /c*.txt', { pty: false })).toEqual({ sender: true, paths: ['/a b', '/c*.txt'] });
    expect(parseRsyncCommand('/usr/local/bin/rsync --server -e.Lsfx --delete . x', { pty: false })).toEqual({ sender: false, paths: ['x'] });
    expect(parseRsyncCommand('rsyncx --server . x', { pty: false })).toBeUndefined();
    expect(parseRsyncCommand('ls --server', { pty: false })).toBeUndefined();
  });

  it('leaves odd commands alone, saying why', () => {
    const why = (c: string, pty = false) => parseRsyncCommand(c, { pty })?.unloggable;
    expect(why('rsync --server -e.L . /x; rm -rf /')).toMatch(/shell syntax/);
    expect(why("rsync --server -e.L . '/a b'")).toMatch(/shell syntax/);
    expect(why('rsync --server -e.L . $(id)')).toMatch(/shell syntax/);
    expect(why('rsync --server --daemon .')).toMatch(/daemon/);
    expect(why('rsync --server --log-file=/tmp/l -e.L . x')).toMatch(/--log-file/);
    expect(why('rsync --server -e.L . x', true)).toMatch(/terminal/);
    expect(why('rsync --server -e.L x')).toMatch(/separator/);
    expect(why('rsync --server -e.L . x')).toBeUndefined();
  });

  it('adds the log right after --server, with a marker that needs no quoting', () => {
    expect(withFileLog('rsync --server -e.L . /d/', false, M)).toBe(`rsync --server --log-file=/dev/stderr --log-file-format=${M}:%o:%l:%n -e.L . /d/`);
    expect(withFileLog('rsync --server --sender -e.L . /s', true, M)).toContain(':%f --sender');
    expect(() => withFileLog('rsync --server', false, "x';y")).toThrow();
  });
});

/** Feed `input` cut at every single position and byte by byte; the outcome must not change. */
function filterAll(input: Buffer): { out: Buffer; entries: RsyncLogEntry[]; logging: boolean } {
  const run = (chunks: Buffer[]) => {
    const out: Buffer[] = [];
    const entries: RsyncLogEntry[] = [];
    const f = new RsyncLogFilter(M, (e) => entries.push(e));
    for (const c of chunks) f.push(c, (d) => out.push(Buffer.from(d)));
    f.end((d) => out.push(d));
    return { out: Buffer.concat(out), entries, logging: f.logging };
  };
  const whole = run([input]);
  const cuts: Buffer[][] = [[...input].map((b) => Buffer.from([b]))];
  for (let i = 1; i < input.length; i += 7) cuts.push([input.subarray(0, i), input.subarray(i)]);
  for (const c of cuts) expect(run(c)).toEqual(whole);
  return whole;
}

describe('rsync log filter', () => {
  it('takes marked lines out as entries, drops rsync\'s own log lines, forwards the rest unchanged', () => {
    const input = Buffer.from(
      [
        'motd noise from .bashrc\n',
        `${P}receiving file list\n`,
        `${P}${M}:recv:4:f1\n`,
        `${P}${M}:send:1234:tmp/a\\#012${M}:recv:5:forged\n`,
        `${P}${M}:del.:0:old/\n`,
        'rsync: warning on stderr\n',
        `${P}sent 138 bytes  received 441 bytes  total size 16\n`,
        '2026/12/0 not a log line\n',
        'no newline at the end',
      ].join(''),
      'latin1',
    );
    const { out, entries, logging } = filterAll(input);
    expect(out.toString('latin1')).toBe('motd noise from .bashrc\nrsync: warning on stderr\n2026/12/0 not a log line\nno newline at the end');
    expect(entries).toEqual([
      { op: 'recv', length: 4, name: 'f1' },
      { op: 'send', length: 1234, name: `tmp/a\n${M}:recv:5:forged` },
      { op: 'del.', length: 0, name: 'old/' },
    ]);
    expect(logging).toBe(true);
  });

  it('lines without the secret marker, or with another marker, are never entries', () => {
    const input = Buffer.from(`${P}warden-ffff:recv:4:forged\n${P}${M}x:recv:4:forged\n${P}${M}:recv:x:bad\nline ${P}${M}:recv:4:inside\n`);
    const { out, entries } = filterAll(input);
    expect(entries).toEqual([]);
    expect(out.toString()).toBe(`line ${P}${M}:recv:4:inside\n`);
  });

  it('holds at most MAX_LOG_LINE bytes of a line; a longer one is forwarded as it is', () => {
    const long = Buffer.from(`${P}${M}:recv:4:${'x'.repeat(MAX_LOG_LINE)}\nafter\n`);
    const out: Buffer[] = [];
    const entries: RsyncLogEntry[] = [];
    const f = new RsyncLogFilter(M, (e) => entries.push(e));
    for (let i = 0; i < long.length; i += 1000) f.push(long.subarray(i, i + 1000), (d) => out.push(Buffer.from(d)));
    expect(entries).toEqual([]);
    expect(Buffer.concat(out).equals(long)).toBe(true);
  });

  it('unescapes names as rsync escapes them (bytes, then UTF-8)', () => {
    expect(unescapeName('a\\#012b')).toBe('a\nb');
    expect(unescapeName('b\\#134#012c')).toBe('b\\#012c');
    expect(unescapeName(Buffer.from('ü tab\tx\\y').toString('latin1'))).toBe('ü tab\tx\\y');
    expect(unescapeName('\\#303\\#274')).toBe('ü');
  });
});

describe('rsync paths', () => {
  it('the receiver joins names to the destination', () => {
    expect(receiverPath(['/tmp/dst/'], 'a/b')).toBe('/tmp/dst/a/b');
    expect(receiverPath(['rel'], 'b')).toBe('rel/b');
    expect(receiverPath([], 'b')).toBe('b');
  });

  it('the sender\'s stripped leading slash comes back under an absolute source', () => {
    expect(senderPath(['/tmp/src/'], 'tmp/src/f1')).toBe('/tmp/src/f1');
    expect(senderPath(['/tmp/src'], 'tmp/src/d/f1')).toBe('/tmp/src/d/f1');
    expect(senderPath(['/tmp/src/f2'], 'tmp/src/f2')).toBe('/tmp/src/f2');
    expect(senderPath(['rel/src'], 'rel/src/f1')).toBe('rel/src/f1');
    expect(senderPath(['/tmp/srcx'], 'tmp/src/f1')).toBe('tmp/src/f1');
    expect(senderPath(['/'], 'etc/hosts')).toBe('/etc/hosts');
  });
});

describe('rsync run', () => {
  const policy = compileTransferPolicy({ upload: true, download: true, delete: true, deny: [] });
  const relay = (command: string) => ({ command }) as ChannelRelay;

  it('rewrites the command and reads the log when allowed; one record saying why when not', () => {
    const on = relay('rsync --server -e.L . /d/');
    const records: TransferRecord[] = [];
    const w = watchRsync(on, policy, (r) => records.push(r), true);
    expect(on.targetCommand).toMatch(/^rsync --server --log-file=\/dev\/stderr --log-file-format=warden-[0-9a-f]{24}:%o:%l:%n -e\.L \. \/d\/$/);
    const marker = /format=([^:]+):/.exec(on.targetCommand!)![1]!;
    const out: Buffer[] = [];
    on.stderrGate!.push(Buffer.from(`${P}${marker}:recv:3:x\n`), (d) => out.push(d));
    w!.watch!.close();
    expect(out).toEqual([]);
    expect(records.map((r) => [r.operation, r.path, r.bytes, r.result])).toEqual([['upload', '/d/x', 3, 'ok']]);

    const off = relay('rsync --server -e.L . /d/');
    const offRecords: TransferRecord[] = [];
    expect(watchRsync(off, policy, (r) => offRecords.push(r), false)).toEqual({});
    expect(off.targetCommand).toBeUndefined();
    expect(offRecords).toMatchObject([{ operation: 'upload', path: '/d/', result: 'started', message: 'files not listed: transfer.rsyncFileLog is off' }]);
  });

  it('a run that never logged is one unlogged record; a refused run never starts', () => {
    const records: TransferRecord[] = [];
    watchRsync(relay('rsync --server --sender -e.L . /s'), policy, (r) => records.push(r), true)!.watch!.close();
    expect(records).toMatchObject([{ operation: 'download', path: '/s', result: 'unlogged' }]);
    const noDownload = compileTransferPolicy({ upload: true, download: false, delete: true, deny: [] });
    const refused = relay('rsync --server --sender -e.L . /s');
    expect(watchRsync(refused, noDownload, () => undefined, true)).toEqual({ refused: 'Warden: downloading files is not allowed on this grant' });
    expect(refused.targetCommand).toBeUndefined();
    expect(watchRsync(relay('ls -l'), policy, () => undefined, true)).toBeUndefined();
  });
});
