/**
 * The fleet's audit events in Redis: every event an instance writes to its audit JSONL file is
 * also appended to one bounded stream, so `GET /api/audit` on any instance sees the whole
 * fleet. The JSONL file stays the complete copy: the tap passes each event on to the file
 * whatever happens here, and this copy is best effort.
 *
 * Off the session path: the tap only pushes onto an in-memory buffer; a timer writes the
 * buffer in one pipeline. While Redis is not ready the buffer waits, bounded (the oldest are
 * dropped and counted, they are still in the file). Field values a peer controls are already
 * escaped by whoever logged them; redacted fields are redacted here as in the file.
 */
import { REDACTED_FIELDS, type Logger } from '../logger.js';
import type { RedisClient } from '../redis-connection.js';
import type { RedisKeys } from '../redis-keys.js';
import { readNewestFirst } from '../redis-stream.js';
import * as z from '../zod.js';

const STREAM_MAX = 100_000;
const BUFFER_MAX = 10_000;
const FLUSH_MS = 200;
/** One event's JSON in the stream; longer ones are cut (the file has them whole). */
const JSON_MAX = 8 * 1024;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.slice(0, 256) : undefined);

function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 3) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = REDACTED_FIELDS.has(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

export class AuditStream {
  private buffer: string[][] = [];
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  /** For tapAudit: copy one audit event (never throws into the caller). */
  readonly onAudit = (e: Record<string, unknown>): void => {
    const event = str(e.event);
    if (!event) return;
    let json = JSON.stringify(redact(e));
    if (json.length > JSON_MAX) json = JSON.stringify({ event, session: e.session, truncated: true });
    const fields = ['at', String(Date.now()), 'instance', this.instanceId, 'event', event];
    for (const k of ['session', 'user', 'admin'] as const) {
      const v = str(e[k]);
      if (v) fields.push(k, v);
    }
    fields.push('json', json);
    this.buffer.push(fields);
    if (this.buffer.length > BUFFER_MAX) {
      this.buffer.shift();
      this.dropped++;
    }
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  };

  /** Write what is buffered (called by the timer, and once more at stop). */
  async flush(): Promise<void> {
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    if (this.redis.status !== 'ready') {
      this.timer = setTimeout(() => void this.flush(), 1_000);
      return;
    }
    const batch = this.buffer;
    this.buffer = [];
    if (this.dropped) {
      this.log.warn({ dropped: this.dropped }, 'audit stream buffer overflowed while Redis was away: the oldest events are only in the audit file');
      this.dropped = 0;
    }
    const pipe = this.redis.pipeline();
    for (const fields of batch) pipe.xadd(this.keys.auditEvents, 'MAXLEN', '~', String(STREAM_MAX), '*', ...fields);
    const res = await pipe.exec().catch((err: Error) => [[err, null]] as const);
    const failed = (res ?? []).filter(([err]) => err).length;
    if (failed) this.log.warn({ failed, of: batch.length }, 'audit events not copied to the Redis stream (they are in the audit file)');
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.flush();
    clearTimeout(this.timer);
  }
}

const storedEvent = z.object({
  at: z.coerce.number(),
  instance: z.string(),
  event: z.string(),
  session: z.optional(z.string()),
  user: z.optional(z.string()),
  admin: z.optional(z.string()),
  json: z.string(),
});

export interface AuditQuery {
  /** A user or an admin: matches `user`, `admin` or `login` of the event. */
  user?: string;
  session?: string;
  event?: string;
  /** ms since epoch. */
  since?: number;
  limit: number;
}

export type AuditEntry = Record<string, unknown> & { at: number; instance: string; event: string };

/** Newest first, fleet-wide. */
export async function queryAudit(redis: RedisClient, keys: RedisKeys, q: AuditQuery): Promise<AuditEntry[]> {
  const pick = (fields: Record<string, string>): AuditEntry | undefined => {
    const p = storedEvent.safeParse(fields);
    if (!p.success) return undefined;
    const s = p.data;
    if (q.event && s.event !== q.event) return undefined;
    if (q.session && !(s.session ?? '').startsWith(q.session.toUpperCase())) return undefined;
    if (q.since !== undefined && s.at < q.since) return undefined;
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(s.json);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // a cut entry: the indexed fields still say what it was
    }
    if (q.user && s.user !== q.user && s.admin !== q.user && body.login !== q.user) return undefined;
    return { ...body, at: s.at, instance: s.instance, event: s.event };
  };
  // Stream ids start with the server's time in ms: `since` bounds the walk, not only the filter.
  return readNewestFirst(redis, keys.auditEvents, q.limit, pick, q.since === undefined ? '-' : String(Math.max(0, q.since - 60_000)));
}
