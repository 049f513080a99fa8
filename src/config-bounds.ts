/**
 * The config keys that bound what peers can make Warden hold: pre-auth admission (inside
 * `auth`), per-connection limits and the environment allow-list. Parsed into the shapes
 * admission.ts and env-policy.ts use.
 */
import * as z from 'zod';
import { DEFAULT_MAX_STARTUPS, DEFAULT_PER_SOURCE_MAX_STARTUPS, parseMaxStartups } from './admission.js';
import { DEFAULT_ENV_ALLOW } from './env-policy.js';

const maxStartups = z.string().transform((value, ctx) => {
  const parsed = parseMaxStartups(value);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not START:RATE:FULL (e.g. "10:30:100", RATE a percentage, START <= FULL) or a single number` });
    return z.NEVER;
  }
  return parsed;
});

/** Fields of `auth`. */
export const admissionFields = {
  /** OpenSSH's MaxStartups "start:rate:full": random early drop of unauthenticated connections. */
  maxStartups: maxStartups.default(parseMaxStartups(DEFAULT_MAX_STARTUPS)!),
  /** Unauthenticated connections from one address at once (OpenSSH's PerSourceMaxStartups). */
  perSourceMaxStartups: z.union([z.number().int().min(1), z.literal('none')]).default(DEFAULT_PER_SOURCE_MAX_STARTUPS),
};

/** `limits`: per-connection bounds on what an authenticated user can make Warden hold. */
export const limitsSchema = z
  .object({
    /** Session channels open at once on one connection (OpenSSH's MaxSessions). */
    maxChannels: z.number().int().min(1).max(1000).default(10),
  })
  .strict()
  .prefault({});

/** `env`: variables passed from the client to the target (a trailing `*` makes a prefix). */
export const envSchema = z
  .object({ allow: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'a variable name, optionally ending in *')).default([...DEFAULT_ENV_ALLOW]) })
  .strict()
  .prefault({});
