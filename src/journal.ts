/**
 * The local journal: audit writes that could not reach Redis, kept so that none is lost.
 *
 * While Redis is away (an outage longer than ioredis' retries, a frozen server) the final
 * session records, command-log entries and recording jobs that could not be written wait
 * here, in memory and bounded, and are written when Redis answers again. At shutdown whatever
 * still waits, or is still in flight, is saved to `dataDir/journal.jsonl` (0600) and written at
 * the next start. Writes are at least once: a final record is idempotent (a finished record
 * is never changed again); a command entry whose reply was lost in the cut may appear twice.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EndReason } from '../machines/session.types.js';
import type { CommandLogEntry, RecordingJob } from './audit/audit-entries.js';
import type { Logger } from './logger.js';
import { PRIVATE_FILE } from './private-files.js';
import type { SessionRecord } from './session-record.js';

/** A session's last record; its `finish` is when it ended, not when it was written. */
export type FinalRecord = SessionRecord & { reason: EndReason };

export type JournalEntry =
  | { kind: 'final'; record: FinalRecord }
  | { kind: 'command'; entry: CommandLogEntry }
  | { kind: 'recording'; job: RecordingJob };

/** Where entries are written; a kind the sink lacks stays in the journal. */
export type JournalSink = {
  [K in JournalEntry['kind']]?: (entry: Extract<JournalEntry, { kind: K }>) => Promise<unknown>;
};

/** Command entries held at most; beyond, new ones are counted and dropped (memory is bounded). */
const MAX_HELD = 50_000;
const BATCH = 64;

export function journalFile(dataDir: string): string {
  return join(dataDir, 'journal.jsonl');
}

export class Journal {
  private held: JournalEntry[] = [];
  /** Held entries per kind: `holding` is asked for every command-log entry, so O(1). */
  private readonly heldKinds = { final: 0, command: 0, recording: 0 };
  private readonly inFlight = new Set<JournalEntry>();
  private dropped = 0;
  private flushing?: Promise<number>;
  /** The file holds entries of the previous run that are not all written yet. */
  private fileInUse = false;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly maxHeld = MAX_HELD,
  ) {}

  /** Entries waiting for Redis. */
  get size(): number {
    return this.held.length;
  }

  /** True while entries of this kind wait: new ones must queue behind them, in order. */
  holding(kind: JournalEntry['kind']): boolean {
    return this.heldKinds[kind] > 0;
  }

  /** Keep an entry until Redis is back. Final records are never dropped (one per session). */
  hold(entry: JournalEntry): void {
    if (entry.kind !== 'final' && this.held.length >= this.maxHeld) {
      if (this.dropped++ === 0) this.log.error({ max: this.maxHeld }, 'journal full: audit entries are being dropped until Redis is back');
      return;
    }
    if (this.held.length === 0) this.log.warn({ kind: entry.kind }, 'redis unavailable: audit writes held in the journal until it is back');
    this.held.push(entry);
    this.heldKinds[entry.kind]++;
  }

  /** A write under way: saved at shutdown if it has not settled; held if it fails. */
  track(entry: JournalEntry, write: Promise<unknown>, opts: { holdOnFailure?: boolean } = {}): void {
    this.inFlight.add(entry);
    write.then(
      () => this.inFlight.delete(entry),
      () => {
        this.inFlight.delete(entry);
        if (opts.holdOnFailure !== false) this.hold(entry);
      },
    );
  }

  /**
   * Write what is held through `sink`, oldest first, until done or a write fails (Redis went
   * away again; the rest stays). Concurrent calls share one run. Returns entries written.
   */
  flush(sink: JournalSink): Promise<number> {
    this.flushing ??= this.drain(sink).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async drain(sink: JournalSink): Promise<number> {
    let written = 0;
    const counts: Record<string, number> = {};
    for (;;) {
      const batch = this.held.filter((e) => sink[e.kind] !== undefined).slice(0, BATCH);
      if (batch.length === 0) break;
      const results = await Promise.allSettled(batch.map((e) => write(sink, e)));
      const failed = new Set(batch.filter((_, i) => results[i]!.status === 'rejected'));
      const done = new Set(batch.filter((e) => !failed.has(e)));
      this.held = this.held.filter((e) => !done.has(e));
      for (const e of done) {
        counts[e.kind] = (counts[e.kind] ?? 0) + 1;
        this.heldKinds[e.kind]--;
      }
      written += done.size;
      if (failed.size) break;
    }
    if (this.held.length === 0 && this.fileInUse) {
      rmSync(this.file, { force: true });
      this.fileInUse = false;
    }
    if (written || this.dropped) {
      this.log.info({ written: counts, dropped: this.dropped, stillHeld: this.held.length }, 'journal written to redis');
      this.dropped = 0;
    }
    return written;
  }

  /**
   * At shutdown, after the Redis connections are closed (so nothing in flight can still land):
   * save what is held or in flight. Returns the number of entries saved.
   */
  save(): number {
    const entries = [...this.held, ...this.inFlight];
    if (entries.length === 0) return 0;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, entries.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: PRIVATE_FILE });
    renameSync(tmp, this.file);
    this.log.warn({ file: this.file, entries: entries.length, dropped: this.dropped }, 'audit writes that could not reach redis saved to the journal');
    return entries.length;
  }

  /** At start: take in a journal left by the previous process (its file is then removed). */
  load(): number {
    if (!existsSync(this.file)) return 0;
    const loaded: JournalEntry[] = [];
    let bad = 0;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        loaded.push(JSON.parse(line) as JournalEntry);
      } catch {
        bad++; // a torn last line (crash while saving) loses that entry only
      }
    }
    this.held.unshift(...loaded);
    for (const e of loaded) this.heldKinds[e.kind]++;
    // The file stays until this run has written (or re-saved) it: a crash now loses nothing.
    this.fileInUse = true;
    this.log.info({ file: this.file, entries: loaded.length, unreadable: bad }, 'journal of the previous run loaded');
    return loaded.length;
  }
}

function write(sink: JournalSink, e: JournalEntry): Promise<unknown> {
  switch (e.kind) {
    case 'final':
      return sink.final!(e);
    case 'command':
      return sink.command!(e);
    case 'recording':
      return sink.recording!(e);
  }
}
