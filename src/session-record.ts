/**
 * The session record (JumpServer's `proxy_log`) as stored in Redis: one hash per session, all
 * values strings. This module is the one place that knows its shape: a zod schema decodes
 * what comes back from Redis (no casts), and `encodeRecord` turns fields into HSET arguments.
 *
 * One connection is one record; each shell/exec/sftp channel on it is an entry in `channels`
 * (the newest MAX_CHANNEL_ENTRIES, with `channelCount` counting all), and each channel's
 * finalised recording is attached as its own field `rec:<n>` by the records worker, so the
 * session's writes and the worker's never overwrite each other.
 */
import { END_REASONS } from '../machines/session.types.js';
import * as z from './zod.js';

/** Channels listed in one record; a ControlPersist master can run thousands (all are in the audit log). */
export const MAX_CHANNEL_ENTRIES = 64;

const num = z.coerce.number();

export const channelEntrySchema = z.object({
  n: z.int(),
  kind: z.enum(['shell', 'exec', 'sftp']),
  command: z.optional(z.string()),
  pty: z.optional(z.boolean()),
  start: z.number(),
  end: z.optional(z.number()),
  exit: z.optional(z.string()),
  bytesIn: z.number(),
  bytesOut: z.number(),
  /** Set when this channel's recording could not be written (policy `continue`). */
  recordingError: z.optional(z.string()),
});
export type ChannelEntry = z.infer<typeof channelEntrySchema>;

export const recordingRefSchema = z.object({ file: z.string(), sha256: z.string(), chainHead: z.string() });
export type RecordingRef = z.infer<typeof recordingRefSchema>;

/** `pending`: no channel yet; `none`: the connection ended without one (ssh -N). */
export const SESSION_KINDS = ['pending', 'none', 'shell', 'exec', 'sftp'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

const json = <T extends z.ZodMiniType>(schema: T) =>
  z.convert(z.string(), (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return z.reject((err as Error).message);
    }
    const parsed = schema.safeParse(value);
    return parsed.success ? (parsed.data as z.output<T>) : z.reject(parsed.error.message);
  });

const text = z._default(z.string(), '');

const storedSchema = z.object({
  id: z.string().check(z.minLength(1)),
  user: text,
  asset: text,
  account: text,
  remote: text,
  instance: text,
  kind: z.catch(z.enum(SESSION_KINDS), 'pending'),
  state: z.enum(['authenticating', 'selecting', 'connecting', 'proxying', 'idle', 'finished']),
  start: num,
  lastActivity: num,
  /** When an idle session will be cut (ms): set on entering `idle`, meaningful only there. */
  idleDeadline: z.optional(num),
  finish: z.optional(num),
  reason: z.optional(z.enum(END_REASONS)),
  detail: z.optional(z.string()),
  by: z.optional(z.string()),
  exitStatus: z.optional(z.string()),
  command: z.optional(z.string()),
  bytesIn: z._default(num, 0),
  bytesOut: z._default(num, 0),
  /** File operations seen on sftp/scp channels (src/transfers). */
  uploads: z.optional(num),
  downloads: z.optional(num),
  deletions: z.optional(num),
  channelCount: z._default(num, 0),
  channels: z._default(json(z.array(channelEntrySchema)), []),
  /** `failed` once any channel could not be recorded; `recordingError` says why. */
  recording: z.optional(z.literal('failed')),
  recordingError: z.optional(z.string()),
});

export type SessionRecord = z.output<typeof storedSchema> & {
  /** Finalised recordings by channel number (from the `rec:<n>` fields). */
  recordings?: Record<number, RecordingRef>;
};

/** The field that holds channel n's finalised recording. */
export const recordingField = (channel: number): string => `rec:${channel}`;

const recordingRef = json(recordingRefSchema);

/** Decode a Redis hash; undefined when it is missing or not a session record. */
export function decodeRecord(hash: Record<string, string>): SessionRecord | undefined {
  if (!hash.id) return undefined;
  const parsed = storedSchema.safeParse(hash);
  if (!parsed.success) return undefined;
  const recordings: Record<number, RecordingRef> = {};
  for (const [k, v] of Object.entries(hash)) {
    if (!k.startsWith('rec:')) continue;
    const ref = recordingRef.safeParse(v);
    if (ref.success) recordings[Number(k.slice(4))] = ref.data;
  }
  return Object.keys(recordings).length ? { ...parsed.data, recordings } : parsed.data;
}

/** HSET arguments for some fields of a record (undefined fields are left out). */
export function encodeRecord(fields: Partial<SessionRecord>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || k === 'recordings') continue;
    out.push(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return out;
}
