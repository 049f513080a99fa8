/**
 * The sections of the config that are plain settings with defaults (each default written once,
 * in its field; an absent section is `{}` run through the schema: `section()`).
 */
import { byteSize, duration } from './config-units.js';
import * as z from './zod.js';

/** A section of settings: only these keys, and an absent section takes every field's default. */
export function section<S extends z.core.$ZodLooseShape>(shape: S) {
  const schema = z.strictObject(shape);
  // Each field of a section is optional or has a default, so {} is a valid input.
  return z.prefault(schema, {} as z.input<typeof schema>);
}

export const targetSection = section({
  connectTimeout: z._default(duration, 10_000),
  keepaliveInterval: z._default(duration, 15_000),
});

export const registrySection = section({
  retention: z._default(duration, 30 * 86_400_000),
  historyMax: z._default(z.int().check(z.minimum(1)), 10_000),
  activityFlushInterval: z._default(duration, 5_000),
  /** During a Redis outage, let new users in anyway (their records are written later). */
  allowLoginsWhenUnavailable: z._default(z.boolean(), false),
  /** Redis must answer a PING within probeTimeout, checked every probeInterval. */
  probeInterval: z._default(duration, 1_000),
  probeTimeout: z._default(duration, 1_000),
});

export const instanceSection = section({
  // A lost instance's sessions are final within lease + reaperInterval (+ one pass):
  // 12 s + 1 s, inside the 15 s promised; four heartbeats may be missed before that.
  heartbeatInterval: z._default(duration, 3_000),
  lease: z._default(duration, 12_000),
  reaperInterval: z._default(duration, 1_000),
});

export const recordingSection = section({
  enabled: z._default(z.boolean(), true),
  /** Keystrokes too ("i" events). Off: input contains secrets typed at prompts. */
  input: z._default(z.boolean(), false),
  /** Default dataDir/recordings. */
  dir: z.optional(z.string()),
  /** A channel that cannot be recorded: end the session (terminate) or tell and go on. */
  onFailure: z._default(z.enum(['terminate', 'continue']), 'terminate'),
  /** Warn (log and audit log) when the recordings' file system has less free space. */
  minFreeSpace: z._default(byteSize, 1024 ** 3),
});
