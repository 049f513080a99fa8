/**
 * Input of the admin API, decoded with zod: every string an admin (or anyone who reaches the
 * port) controls has a bound, ids are ULID characters only (no path tricks reach Redis).
 */
import { WardenError } from '../errors.js';
import { KILL_REASON_MAX } from '../kill-channel.js';
import * as z from '../zod.js';

export const MAX_REASON = KILL_REASON_MAX;

const text = (max: number) => z.string().check(z.maxLength(max));
const userName = z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 letters, digits, _ . -'));
/** A session id or the prefix of one. */
export const sessionIdPrefix = z.string().check(z.regex(/^[0-9A-Za-z]{1,26}$/, 'session ids are 1-26 letters and digits (a ULID or its prefix)'));
/** How many entries a listing returns. */
export const pageLimit = z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000)), 100);

export const sessionIdParam = z.object({ id: sessionIdPrefix });
export const userParam = z.object({ name: userName });
export const killBody = z.strictObject({ reason: z.optional(text(MAX_REASON)) });
export const loginBody = z.strictObject({ name: text(64), password: text(1024) });

export const sessionsQuery = z.strictObject({
  state: z._default(z.enum(['live', 'recent']), 'live'),
  user: z.optional(text(64)),
  asset: z.optional(text(64)),
  instance: z.optional(text(64)),
  q: z.optional(text(200)),
  limit: pageLimit,
});

/** A point in time: ms since the epoch or an ISO 8601 time. */
export const instant = z.convert(text(40), (s) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  return Number.isFinite(ms) ? ms : z.reject('a time in ms since the epoch or ISO 8601');
});

export const commandsQuery = z.strictObject({
  session: z.optional(sessionIdPrefix),
  user: z.optional(text(64)),
  asset: z.optional(text(64)),
  grep: z.optional(text(200)),
  since: z.optional(instant),
  until: z.optional(instant),
  limit: pageLimit,
});

/** Decode or answer 400 with what is wrong, naming the field. */
export function decode<T extends z.ZodMiniType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`);
  throw new WardenError('BAD_REQUEST', `${what}: ${issues.join('; ')}`.slice(0, 500));
}
