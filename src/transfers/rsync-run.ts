/**
 * One `rsync --server` exec: checked against the grant from its command line (direction and
 * paths), then each file the target's rsync reports in its per-file log (rsync-log.ts) is one
 * transfer record: `send` a download, `recv` an upload, `del.` a deletion (`--delete`).
 *
 * When the log cannot be added (shell syntax, daemon mode, a terminal, the user's own
 * --log-file) or the target's rsync never wrote it (an old or wrapped rsync, a log file it
 * could not open), the run is one record, as before, saying why its files are not listed.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { ChannelRelay } from '../channel-relay.js';
import { parseRsyncCommand, withFileLog, type RsyncCommand } from './rsync-command.js';
import { RsyncLogFilter, type RsyncLogEntry } from './rsync-log.js';
import type { EmitTransfer, TransferRecord } from './transfer-event.js';
import type { TransferPolicy } from './transfer-policy.js';

export interface RsyncWatch {
  close(): void;
}

/** undefined: not rsync; else a refusal or the watch (none when the run is one record). */
export function watchRsync(relay: ChannelRelay, policy: TransferPolicy, emit: EmitTransfer, fileLog: boolean): { refused?: string; watch?: RsyncWatch } | undefined {
  const command = relay.command ?? '';
  const cmd = parseRsyncCommand(command, { pty: relay.pty !== undefined });
  if (!cmd) return undefined;
  const op = cmd.sender ? 'download' : 'upload';
  const run = (result: string, message: string): TransferRecord => ({ protocol: 'rsync', operation: op, path: cmd.paths.join(' '), bytes: 0, result, message, at: Date.now(), durationMs: 0 });
  const refusal =
    policy.check(op, cmd.paths) ??
    (policy.maxFileSize !== undefined ? { message: 'rsync cannot be checked against maxFileSize on this grant; use sftp or scp', rule: 'maxFileSize' } : undefined);
  if (refusal) {
    emit(run('denied', refusal.message));
    return { refused: `Warden: ${refusal.message}` };
  }
  const unloggable = fileLog ? cmd.unloggable : 'transfer.rsyncFileLog is off';
  if (unloggable) {
    emit(run('started', `files not listed: ${unloggable}`));
    return {};
  }
  const marker = `warden-${randomBytes(12).toString('hex')}`;
  const filter = new RsyncLogFilter(marker, (e) => emit(fileRecord(cmd, e)));
  relay.targetCommand = withFileLog(command, cmd.sender, marker);
  relay.stderrGate = { push: (d, forward) => filter.push(d, forward), end: (forward) => filter.end(forward) };
  return {
    watch: {
      close() {
        if (!filter.logging) emit(run('unlogged', "files not listed: the target's rsync wrote no per-file log"));
      },
    },
  };
}

function fileRecord(cmd: RsyncCommand, e: RsyncLogEntry): TransferRecord {
  const dir = e.op === 'del.' && e.name.endsWith('/');
  const name = dir ? e.name.slice(0, -1) : e.name;
  const path = e.op === 'send' ? senderPath(cmd.paths, name) : receiverPath(cmd.paths, name);
  const operation = e.op === 'send' ? 'download' : e.op === 'recv' ? 'upload' : dir ? 'rmdir' : 'delete';
  return { protocol: 'rsync', operation, path, bytes: e.op === 'del.' ? 0 : e.length, result: 'ok', at: Date.now(), durationMs: 0 };
}

/** The receiver logs names relative to the destination (the last path word). */
export function receiverPath(paths: readonly string[], name: string): string {
  const dest = paths[paths.length - 1];
  return dest === undefined || dest === '' ? name : posix.join(dest, name);
}

/**
 * The sender logs the source path with any leading `/` stripped: it is absolute again when
 * it lies under an absolute source word, else it stays relative (to the login directory).
 */
export function senderPath(sources: readonly string[], name: string): string {
  const abs = `/${name}`;
  for (const s of sources) {
    if (!s.startsWith('/')) continue;
    const base = posix.normalize(s).replace(/\/+$/, '');
    if (base === '' || abs === base || abs.startsWith(`${base}/`)) return abs;
  }
  return name;
}
