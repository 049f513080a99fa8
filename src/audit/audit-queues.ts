/**
 * The audit pipeline (the seed's `record_task` and `command_task`, on BullMQ):
 *
 * - `records-<instance>`: a finished recording is compressed, hashed and its reference stored
 *   in the session record. Per instance, because the file is on this instance's disk.
 * - `commands`: each logged command goes to a bounded Redis stream (queried by
 *   `warden commands`, fleet-wide) and to a JSONL file under dataDir.
 *
 * Producers never block a session: a failed enqueue is logged and dropped.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../redis-keys.js';
import type { Registry } from '../registry.js';
import { finalizeRecording } from '../recording/finalize.js';
import { readNewestFirst } from '../redis-stream.js';
import type { TransferEvent, TransferSink } from '../transfers/transfer-event.js';
import { storeTransfer } from '../transfers/transfer-log.js';

export interface CommandLogEntry {
  session: string;
  user: string;
  asset: string;
  account: string;
  command: string;
  /** ms since epoch. */
  at: number;
  /** The channel it was typed on (its recording is `<session>.<channel>.cast`). */
  channel?: number;
  /** Seconds into that channel's recording. */
  offset: number;
  /** fullscreen: a full-screen program was launched (its keys are not parsed); exec: the
   *  command of an exec channel; no_pty: a shell without a terminal (input not parsed);
   *  denied: refused by a command rule. */
  tag?: 'fullscreen' | 'exec' | 'no_pty' | 'denied' | 'unverified';
}

export interface RecordingJob {
  session: string;
  /** The channel within the session's connection (1, 2, ...). */
  channel: number;
  file: string;
  chainHead: string;
  bytes: number;
}

export interface AuditSink extends Partial<TransferSink> {
  command(entry: CommandLogEntry): void;
  recording(job: RecordingJob): void;
}

const STREAM_MAX = 100_000;
const RETENTION = { removeOnComplete: true, removeOnFail: { age: 7 * 86_400 } };

export class AuditQueues implements AuditSink, TransferSink {
  private readonly records: Queue;
  private readonly commands: Queue;
  private readonly transfers: Queue;
  private readonly workers: Worker[] = [];

  constructor(
    private readonly o: { instanceId: string; keys: RedisKeys; connection: Redis; workerConnection: Redis; registry: Registry; dataDir: string; log: Logger },
  ) {
    const opts = { connection: o.connection, prefix: o.keys.bullPrefix };
    this.records = new Queue(`records-${o.instanceId}`, opts);
    this.commands = new Queue('commands', opts);
    this.transfers = new Queue('transfers', opts);
    const wopts = { connection: o.workerConnection, prefix: o.keys.bullPrefix, concurrency: 4 };
    this.workers.push(new Worker<RecordingJob>(`records-${o.instanceId}`, (job) => this.finishRecording(job.data), wopts));
    this.workers.push(new Worker<CommandLogEntry>('commands', (job) => this.storeCommand(job.data), { ...wopts, concurrency: 1 }));
    // One at a time: the JSONL file and the stream keep the order the operations completed in.
    this.workers.push(new Worker<TransferEvent>('transfers', (job) => storeTransfer(o.connection, o.keys, o.dataDir, job.data), { ...wopts, concurrency: 1 }));
    const onError = (err: Error) => o.log.warn({ err: err.message }, 'audit queue error');
    for (const q of [this.records, this.commands, this.transfers]) q.on('error', onError);
    for (const w of this.workers) w.on('error', onError);
  }

  async ready(): Promise<void> {
    await Promise.all([this.records.waitUntilReady(), this.commands.waitUntilReady(), this.transfers.waitUntilReady(), ...this.workers.map((w) => w.waitUntilReady())]);
  }

  command(entry: CommandLogEntry): void {
    this.commands.add('command', entry, RETENTION).catch((err: Error) => this.o.log.warn({ err: err.message, session: entry.session }, 'command log entry dropped'));
  }

  transfer(event: TransferEvent): void {
    this.transfers.add('transfer', event, RETENTION).catch((err: Error) => this.o.log.warn({ err: err.message, session: event.session }, 'transfer log entry dropped'));
  }

  recording(job: RecordingJob): void {
    this.records.add('record', job, { ...RETENTION, attempts: 5, backoff: { type: 'exponential', delay: 1000 } }).catch((err: Error) => this.o.log.warn({ err: err.message, session: job.session }, 'recording finalisation not queued'));
  }

  private async finishRecording(job: RecordingJob): Promise<{ gzFile: string; sha256: string }> {
    const done = await finalizeRecording(job.file);
    await this.o.registry.attachRecording(job.session, job.channel, { file: done.gzFile, sha256: done.sha256, chainHead: job.chainHead });
    return { gzFile: done.gzFile, sha256: done.sha256 };
  }

  private async storeCommand(e: CommandLogEntry): Promise<void> {
    const fields = Object.entries(e).flatMap(([k, v]) => (v === undefined ? [] : [k, String(v)]));
    await this.o.connection.xadd(this.o.keys.commands, 'MAXLEN', '~', String(STREAM_MAX), '*', ...fields);
    const dir = join(this.o.dataDir, 'commands');
    await mkdir(dir, { recursive: true });
    await appendFile(join(dir, `${new Date(e.at).toISOString().slice(0, 10)}.jsonl`), `${JSON.stringify(e)}\n`);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close().catch(() => {})));
    await Promise.all([this.records.close().catch(() => {}), this.commands.close().catch(() => {}), this.transfers.close().catch(() => {})]);
  }
}

/** Read the command stream newest first, filtered (for `warden commands`). */
export async function queryCommands(
  redis: Redis,
  keys: RedisKeys,
  f: { session?: string; user?: string; asset?: string; grep?: RegExp; limit: number },
): Promise<CommandLogEntry[]> {
  return readNewestFirst(redis, keys.commands, f.limit, (fields) => {
    const e = { ...fields, at: Number(fields.at), offset: Number(fields.offset), ...(fields.channel === undefined ? {} : { channel: Number(fields.channel) }) } as unknown as CommandLogEntry;
    if (f.session && !e.session.startsWith(f.session.toUpperCase())) return undefined;
    if (f.user && e.user !== f.user) return undefined;
    if (f.asset && e.asset !== f.asset) return undefined;
    return f.grep && !f.grep.test(e.command) ? undefined : e;
  });
}
