/**
 * One completed file operation, as Warden logs it (the BullMQ `transfers` queue carries it to
 * a bounded Redis stream and dataDir/transfers/DAY.jsonl; `warden transfers` reads it back).
 */
import type { TransferOp } from './transfer-policy.js';

/** What a protocol tracker knows about an operation. */
export interface TransferRecord {
  protocol: 'sftp' | 'scp' | 'rsync';
  operation: TransferOp;
  path: string;
  /** The second path of rename, symlink, link. */
  path2?: string;
  /** File bytes moved: written for an upload, read for a download. */
  bytes: number;
  /** ok, denied (by Warden's policy), the target's error (no_such_file, permission_denied,
   *  failure, ...), interrupted (the channel closed with the file open), no_reply. */
  result: string;
  message?: string;
  /** Permission bits set (mkdir, setstat), octal. */
  mode?: string;
  /** When the operation started (ms since epoch) and how long it took. */
  at: number;
  durationMs: number;
  /** sha256 of the file's bytes as they passed, when computed; the kept copy, if kept. */
  sha256?: string;
  kept?: string;
}

/** ... with who, where and which channel: what the pipeline stores. */
export interface TransferEvent extends TransferRecord {
  session: string;
  channel: number;
  user: string;
  asset: string;
  account: string;
}

/** Sink for trackers. */
export type EmitTransfer = (record: TransferRecord) => void;

/** Where events go: the audit pipeline (AuditQueues). */
export interface TransferSink {
  transfer(event: TransferEvent): void;
}
