/**
 * The audit pipeline (the seed's `record_task` and `command_task`, on BullMQ):
 *
 * - `records-<instance>`: a finished recording is compressed, hashed and its reference stored
 *   in the session record. Per instance, because the file is on this instance's disk.
 * - `commands`: each logged command goes to a bounded Redis stream (queried by
 *   `warden commands`, fleet-wide) and to a JSONL file under dataDir.
 *
 * Producers never block a session. While Redis is unavailable, or when an enqueue fails, the
 * entry waits in the journal (bounded) and is enqueued when Redis is back.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import type { Journal, JournalSink } from '../journal.js';
import type { Logger } from '../logger.js';
import { PRIVATE_DIR, PRIVATE_FILE } from '../private-files.js';
import type { RedisKeys } from '../redis-keys.js';
import type { Registry } from '../registry.js';
import { finalizeRecording } from '../recording/finalize.js';
import { readNewestFirst } from '../redis-stream.js';
import type { TransferEvent, TransferSink } from '../transfers/transfer-event.js';
import { storeTransfer } from '../transfers/transfer-log.js';
import { commandLogEntrySchema, type CommandLogEntry, type RecordingJob } from './audit-entries.js';

export type { CommandLogEntry, RecordingJob } from './audit-entries.js';

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
    private readonly o: {
      instanceId: string; keys: RedisKeys; connection: RedisClient; workerConnection: RedisClient; registry: Registry; dataDir: string; log: Logger;
      journal: Journal;
      /** False while Redis does not answer: entries go to the journal without trying. */
      available(): boolean;
    },
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
    const onError = (err: Error) => o.log.warn({ err }, 'audit queue error');
    for (const q of [this.records, this.commands, this.transfers]) q.on('error', onError);
    for (const w of this.workers) w.on('error', onError);
  }

  async ready(): Promise<void> {
    await Promise.all([this.records.waitUntilReady(), this.commands.waitUntilReady(), this.transfers.waitUntilReady(), ...this.workers.map((w) => w.waitUntilReady())]);
  }

  command(entry: CommandLogEntry): void {
    const held = { kind: 'command', entry } as const;
    // Behind entries already held, so the log keeps its order.
    if (!this.o.available() || this.o.journal.holding('command')) return this.o.journal.hold(held);
    this.o.journal.track(held, this.addCommand(entry));
  }

  transfer(event: TransferEvent): void {
    this.transfers.add('transfer', event, RETENTION).catch((err: Error) => this.o.log.warn({ err, session: event.session }, 'transfer log entry dropped'));
  }

  recording(job: RecordingJob): void {
    const held = { kind: 'recording', job } as const;
    if (!this.o.available()) return this.o.journal.hold(held);
    this.o.journal.track(held, this.addRecording(job));
  }

  /** How the journal writes held entries when Redis is back. */
  readonly sink: JournalSink = {
    command: (e) => this.addCommand(e.entry),
    recording: (e) => this.addRecording(e.job),
  };

  private addCommand(entry: CommandLogEntry): Promise<unknown> {
    return this.commands.add('command', entry, RETENTION);
  }

  private addRecording(job: RecordingJob): Promise<unknown> {
    return this.records.add('record', job, { ...RETENTION, attempts: 5, backoff: { type: 'exponential', delay: 1000 } });
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
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
    await appendFile(join(dir, `${new Date(e.at).toISOString().slice(0, 10)}.jsonl`), `${JSON.stringify(e)}\n`, { mode: PRIVATE_FILE });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close().catch(() => {})));
    await Promise.all([this.records.close().catch(() => {}), this.commands.close().catch(() => {}), this.transfers.close().catch(() => {})]);
  }
}

/** Read the command stream newest first, filtered (for `warden commands`). */
export async function queryCommands(
  redis: RedisClient,
  keys: RedisKeys,
  f: { session?: string; user?: string; asset?: string; grep?: RegExp; since?: number; until?: number; limit: number },
): Promise<CommandLogEntry[]> {
  // Stream ids start with Redis's time when the entry was added (after it was typed): `since`
  // bounds the walk itself, with a minute's slack for instances whose clock runs ahead.
  const min = f.since === undefined ? '-' : String(Math.max(0, f.since - 60_000));
  return readNewestFirst(redis, keys.commands, f.limit, (fields) => {
    const parsed = commandLogEntrySchema.safeParse(fields);
    if (!parsed.success) return undefined;
    const e = parsed.data;
    if (f.session && !e.session.startsWith(f.session.toUpperCase())) return undefined;
    if (f.user && e.user !== f.user) return undefined;
    if (f.asset && e.asset !== f.asset) return undefined;
    if ((f.since !== undefined && e.at < f.since) || (f.until !== undefined && e.at > f.until)) return undefined;
    return f.grep && !f.grep.test(e.command) ? undefined : e;
  }, min);
}
