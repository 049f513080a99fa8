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
import * as z from 'zod';
import { END_REASONS } from '../machines/session.types.js';

/** Channels listed in one record; a ControlPersist master can run thousands (all are in the audit log). */
export const MAX_CHANNEL_ENTRIES = 64;

const num = z.coerce.number();

export const channelEntrySchema = z.object({
  n: z.number().int(),
  kind: z.enum(['shell', 'exec', 'sftp']),
  command: z.string().optional(),
  pty: z.boolean().optional(),
  start: z.number(),
  end: z.number().optional(),
  exit: z.string().optional(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  /** Set when this channel's recording could not be written (policy `continue`). */
  recordingError: z.string().optional(),
});
export type ChannelEntry = z.infer<typeof channelEntrySchema>;

export const recordingRefSchema = z.object({ file: z.string(), sha256: z.string(), chainHead: z.string() });
export type RecordingRef = z.infer<typeof recordingRefSchema>;

/** `pending`: no channel yet; `none`: the connection ended without one (ssh -N). */
export const SESSION_KINDS = ['pending', 'none', 'shell', 'exec', 'sftp'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

const json = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx) => {
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data as z.output<T>;
      ctx.addIssue({ code: 'custom', message: parsed.error.message });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
    return z.NEVER;
  });

const storedSchema = z.object({
  id: z.string().min(1),
  user: z.string().default(''),
  asset: z.string().default(''),
  account: z.string().default(''),
  remote: z.string().default(''),
  instance: z.string().default(''),
  kind: z.enum(SESSION_KINDS).catch('pending'),
  state: z.enum(['authenticating', 'selecting', 'connecting', 'proxying', 'idle', 'finished']),
  start: num,
  lastActivity: num,
  /** When an idle session will be cut (ms): set on entering `idle`, meaningful only there. */
  idleDeadline: num.optional(),
  finish: num.optional(),
  reason: z.enum(END_REASONS).optional(),
  detail: z.string().optional(),
  by: z.string().optional(),
  exitStatus: z.string().optional(),
  command: z.string().optional(),
  bytesIn: num.default(0),
  bytesOut: num.default(0),
  /** File operations seen on sftp/scp channels (src/transfers). */
  uploads: num.optional(),
  downloads: num.optional(),
  deletions: num.optional(),
  channelCount: num.default(0),
  channels: json(z.array(channelEntrySchema)).default([]),
  /** `failed` once any channel could not be recorded; `recordingError` says why. */
  recording: z.literal('failed').optional(),
  recordingError: z.string().optional(),
});

export type SessionRecord = z.output<typeof storedSchema> & {
  /** Finalised recordings by channel number (from the `rec:<n>` fields). */
  recordings?: Record<number, RecordingRef>;
};

/** The field that holds channel n's finalised recording. */
export const recordingField = (channel: number): string => `rec:${channel}`;

/** Decode a Redis hash; undefined when it is missing or not a session record. */
export function decodeRecord(hash: Record<string, string>): SessionRecord | undefined {
  if (!hash.id) return undefined;
  const parsed = storedSchema.safeParse(hash);
  if (!parsed.success) return undefined;
  const recordings: Record<number, RecordingRef> = {};
  for (const [k, v] of Object.entries(hash)) {
    if (!k.startsWith('rec:')) continue;
    const ref = json(recordingRefSchema).safeParse(v);
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
