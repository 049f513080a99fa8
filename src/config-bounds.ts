/**
 * The config keys that bound what peers can make Warden hold: pre-auth admission (inside
 * `auth`), per-connection limits and the environment allow-list. Parsed into the shapes
 * admission.ts and env-policy.ts use.
 */
import { DEFAULT_MAX_STARTUPS, DEFAULT_PER_SOURCE_MAX_STARTUPS, parseMaxStartups } from './admission.js';
import { section } from './config-sections.js';
import { DEFAULT_ENV_ALLOW } from './env-policy.js';
import * as z from './zod.js';

const maxStartups = z.convert(
  z.string(),
  (value) => parseMaxStartups(value) ?? z.reject(`"${value}" is not START:RATE:FULL (e.g. "10:30:100", RATE a percentage, START <= FULL) or a single number`),
);

/** Fields of `auth`. */
export const admissionFields = {
  /** OpenSSH's MaxStartups "start:rate:full": random early drop of unauthenticated connections. */
  maxStartups: z._default(maxStartups, parseMaxStartups(DEFAULT_MAX_STARTUPS)!),
  /** Unauthenticated connections from one address at once (OpenSSH's PerSourceMaxStartups). */
  perSourceMaxStartups: z._default(z.union([z.int().check(z.minimum(1)), z.literal('none')]), DEFAULT_PER_SOURCE_MAX_STARTUPS),
};

/** `limits`: per-connection bounds on what an authenticated user can make Warden hold. */
export const limitsSchema = section({
  /** Session channels open at once on one connection (OpenSSH's MaxSessions). */
  maxChannels: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 10),
});

/** `env`: variables passed from the client to the target (a trailing `*` makes a prefix). */
export const envSchema = section({
  allow: z._default(z.array(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'a variable name, optionally ending in *'))), [...DEFAULT_ENV_ALLOW]),
});
