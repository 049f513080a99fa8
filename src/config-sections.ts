/**
 * The sections of the config that are plain settings with defaults (each default written once,
 * in its field; an absent section is `{}` run through the schema: `.prefault({})`).
 */
import * as z from 'zod';
import { byteSize, duration } from './config-units.js';

export const targetSection = z
  .object({
    connectTimeout: duration.default(10_000),
    keepaliveInterval: duration.default(15_000),
  })
  .strict()
  .prefault({});

export const registrySection = z
  .object({
    retention: duration.default(30 * 86_400_000),
    historyMax: z.number().int().min(1).default(10_000),
    activityFlushInterval: duration.default(5_000),
    /** During a Redis outage, let new users in anyway (their records are written later). */
    allowLoginsWhenUnavailable: z.boolean().default(false),
    /** Redis must answer a PING within probeTimeout, checked every probeInterval. */
    probeInterval: duration.default(1_000),
    probeTimeout: duration.default(1_000),
  })
  .strict()
  .prefault({});

export const instanceSection = z
  .object({
    // A lost instance's sessions are final within lease + reaperInterval (+ one pass):
    // 12 s + 1 s, inside the 15 s promised; four heartbeats may be missed before that.
    heartbeatInterval: duration.default(3_000),
    lease: duration.default(12_000),
    reaperInterval: duration.default(1_000),
  })
  .strict()
  .prefault({});

export const recordingSection = z
  .object({
    enabled: z.boolean().default(true),
    /** Keystrokes too ("i" events). Off: input contains secrets typed at prompts. */
    input: z.boolean().default(false),
    /** Default dataDir/recordings. */
    dir: z.string().optional(),
    /** A channel that cannot be recorded: end the session (terminate) or tell and go on. */
    onFailure: z.enum(['terminate', 'continue']).default('terminate'),
    /** Warn (log and audit log) when the recordings' file system has less free space. */
    minFreeSpace: byteSize.default(1024 ** 3),
  })
  .strict()
  .prefault({});
