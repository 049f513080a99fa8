/**
 * File-transfer audit and policy for one channel: an sftp subsystem gets the SFTP tracker on
 * both directions (through the relay's input and output gates), an exec of legacy `scp -t/-f`
 * the scp tracker, an exec of `rsync --server` the target rsync's own per-file log (rsync-run.ts). Each
 * completed operation becomes a TransferEvent for the audit pipeline; refusals and parsers
 * that gave up are also audit-log events.
 *
 * A parser that gives up on malformed traffic lets the bytes flow on when the grant restricts
 * nothing (only the log is lost, and that is said); when it does restrict something the
 * channel is closed instead, since unparsed traffic could carry a refused operation.
 */
import { join } from 'node:path';
import type { ChannelRelay } from '../channel-relay.js';
import type { Logger } from '../logger.js';
import { printable } from '../text.js';
import { KeptCopy, prepareKeepDir } from './kept-copy.js';
import { parseScpCommand } from './scp-command.js';
import { ScpTracker } from './scp-tracker.js';
import { watchRsync } from './rsync-run.js';
import { SftpTracker } from './sftp-tracker.js';
import type { FileTap } from './sftp-files.js';
import type { TransferEvent, TransferRecord } from './transfer-event.js';
import type { TransferPolicy } from './transfer-policy.js';

export interface TransferContext {
  session: string;
  channel: number;
  user: string;
  asset: string;
  account: string;
  policy: TransferPolicy;
  keep: { enabled: boolean; maxFileSize: number; dir: string };
  /** Add the target rsync's own per-file log to rsync runs (rsync-run.ts). */
  rsyncFileLog: boolean;
  /** To the transfer log (BullMQ); absent without an audit pipeline. */
  sink?: (e: TransferEvent) => void;
  /** Per-session counts (uploads, downloads, deletions). */
  count(rec: TransferRecord): void;
  audit: Logger;
  log: Logger;
}

export interface TransferWatch {
  close(): void;
}

/** Start watching a channel; `refused` when the whole exec must not run. */
export function watchTransfers(relay: ChannelRelay, ctx: TransferContext): { watch?: TransferWatch; refused?: string } {
  const who = { session: ctx.session, channel: ctx.channel, user: ctx.user, asset: ctx.asset, account: ctx.account };
  const emit = (rec: TransferRecord) => {
    if (rec.message === undefined) delete rec.message;
    ctx.count(rec);
    const event: TransferEvent = { ...who, ...rec, path: printable(rec.path, 4096), ...(rec.path2 === undefined ? {} : { path2: printable(rec.path2, 4096) }) };
    if (rec.result === 'denied') ctx.audit.warn({ event: 'transfer_denied', ...event }, 'file transfer refused by policy');
    ctx.sink?.(event);
  };
  const abandon = (protocol: string) => (why: string) => {
    const enforcing = !ctx.policy.permissive;
    ctx.audit.warn({ event: 'transfer_parse_abandoned', ...who, protocol, why: printable(why, 256), channelClosed: enforcing }, 'file-transfer parsing stopped on malformed traffic');
    if (enforcing) relay.end(1);
  };
  const tap = keeper(ctx);

  if (relay.kind === 'sftp') {
    const t = new SftpTracker({ policy: ctx.policy, emit, abandon: abandon('sftp'), tap });
    relay.gate = (d, forward) => t.fromClient.push(d, forward);
    relay.outputGate = (d, forward) => t.fromTarget.push(d, forward);
    return { watch: t };
  }
  if (relay.kind !== 'exec' || relay.command === undefined) return {};
  const scp = parseScpCommand(relay.command);
  if (scp) {
    const refusal = ctx.policy.check(scp.mode, [scp.path]);
    if (refusal) {
      emit({ protocol: 'scp', operation: scp.mode, path: scp.path, bytes: 0, result: 'denied', message: refusal.message, at: Date.now(), durationMs: 0 });
      return { refused: `Warden: ${refusal.message}` };
    }
    const t = new ScpTracker({ command: scp, policy: ctx.policy, emit, abandon: abandon('scp'), tap });
    relay.gate = (d, forward) => t.fromClient(d, forward);
    relay.outputGate = (d, forward) => t.fromTarget(d, forward);
    return { watch: t };
  }
  return watchRsync(relay, ctx.policy, emit, ctx.rsyncFileLog) ?? {};
}

/** Session-record counts; true when one changed. */
export function countTransfer(record: { uploads?: number; downloads?: number; deletions?: number }, rec: TransferRecord): boolean {
  if (rec.result !== 'ok') return false;
  const key = rec.operation === 'upload' ? 'uploads' : rec.operation === 'download' ? 'downloads' : rec.operation === 'delete' || rec.operation === 'rmdir' ? 'deletions' : undefined;
  if (!key) return false;
  record[key] = (record[key] ?? 0) + 1;
  return true;
}

function keeper(ctx: TransferContext): ((op: 'upload' | 'download', path: string) => FileTap | undefined) | undefined {
  if (!ctx.keep.enabled) return undefined;
  const dir = join(ctx.keep.dir, new Date().toISOString().slice(0, 10));
  try {
    prepareKeepDir(dir);
  } catch (err) {
    ctx.log.error({ err }, 'cannot create the dir for kept transfer copies; files are not kept');
    return undefined;
  }
  return () => new KeptCopy({ dir, maxFileSize: ctx.keep.maxFileSize, session: ctx.session, onError: (err) => ctx.log.error({ err }, 'kept copy failed') });
}
