/**
 * Field types of the config: durations ("30m"), sizes ("50MiB"), public key lines, HOST:PORT,
 * the session policy and command rules (whose TypeScript type is inferred from the schema).
 */
import * as z from 'zod';
import { parseByteSize } from './byte-size.js';
import { parseDuration } from './duration.js';
import { parseKey } from './ssh-key-parser.js';

export const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 4s, 90s, 30m, 8h)` });
      return z.NEVER;
    }
    return ms;
  });

export const byteSize = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const bytes = parseByteSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (use e.g. 512KiB, 50MiB, 1GiB)` });
      return z.NEVER;
    }
    return bytes;
  });

export const publicKeyLine = z.string().superRefine((line, ctx) => {
  const parsed = parseKey(line);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    ctx.addIssue({ code: 'custom', message: `not an OpenSSH public key line (${parsed instanceof Error ? parsed.message : 'several keys'})` });
  }
});

export const hostPort = z.string().transform((value, ctx) => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not HOST:PORT (e.g. 127.0.0.1:2222)` });
    return z.NEVER;
  }
  return { host: (m[1] ?? m[2])!, port };
});

export const sessionPolicy = z
  .object({
    idleTimeout: duration.optional(),
    idleWarning: duration.optional(),
    idleActivity: z.enum(['input', 'input+output']).optional(),
    maxDuration: duration.optional(),
    maxDurationWarning: duration.optional(),
  })
  .strict();

export const commandRule = z.union([
  z.object({ deny: z.string(), message: z.string().optional() }).strict(),
  z.object({ warn: z.string(), message: z.string().optional() }).strict(),
]);

/** A `deny` or `warn` rule of a grant's `commands`. */
export type CommandRule = z.output<typeof commandRule>;
