/**
 * Input of the admin API, decoded with zod: every string an admin (or anyone who reaches the
 * port) controls has a bound, ids are ULID characters only (no path tricks reach Redis).
 */
import * as z from 'zod';
import { WardenError } from '../errors.js';
import { KILL_REASON_MAX } from '../kill-channel.js';

export const MAX_REASON = KILL_REASON_MAX;

const text = (max: number) => z.string().max(max);
const userName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 letters, digits, _ . -');

export const sessionIdParam = z.object({ id: z.string().regex(/^[0-9A-Za-z]{1,26}$/, 'session ids are 1-26 letters and digits (a ULID or its prefix)') });
export const userParam = z.object({ name: userName });
export const killBody = z.object({ reason: text(MAX_REASON).optional() }).strict();
export const loginBody = z.object({ name: text(64), password: text(1024) }).strict();

export const sessionsQuery = z
  .object({
    state: z.enum(['live', 'recent']).default('live'),
    user: text(64).optional(),
    asset: text(64).optional(),
    instance: text(64).optional(),
    q: text(200).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** A point in time: ms since the epoch or an ISO 8601 time. */
export const instant = z.string().max(40).transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'a time in ms since the epoch or ISO 8601' });
    return z.NEVER;
  }
  return ms;
});

export const commandsQuery = z
  .object({
    session: z.string().regex(/^[0-9A-Za-z]{1,26}$/).optional(),
    user: text(64).optional(),
    asset: text(64).optional(),
    grep: text(200).optional(),
    since: instant.optional(),
    until: instant.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** Decode or answer 400 with what is wrong, naming the field. */
export function decode<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`);
  throw new WardenError('BAD_REQUEST', `${what}: ${issues.join('; ')}`.slice(0, 500));
}
