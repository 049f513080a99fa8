/**
 * Field types of the config: public key lines, HOST:PORT, the session policy and command rules
 * (whose TypeScript type is inferred from the schema). Durations and sizes: config-units.ts.
 */
import * as z from 'zod';
import { parseKey } from './ssh-key-parser.js';
import { duration } from './config-units.js';

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
