/**
 * Field types of the config: public key lines, HOST:PORT, trusted proxy addresses, the session
 * policy and command rules (whose TypeScript type is inferred from the schema). Durations and
 * sizes: config-units.ts.
 */
import { parseKey } from './ssh-key-parser.js';
import { parseCidr } from './proxy-protocol.js';
import { duration } from './config-units.js';
import * as z from './zod.js';

export const publicKeyLine = z.string().check(
  z.superRefine((line, ctx) => {
    const parsed = parseKey(line);
    if (parsed instanceof Error || Array.isArray(parsed)) {
      ctx.addIssue({ code: 'custom', message: `not an OpenSSH public key line (${parsed instanceof Error ? parsed.message : 'several keys'})` });
    }
  }),
);

export const hostPort = z.convert(z.string(), (value) => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return z.reject(`"${value}" is not HOST:PORT (e.g. 127.0.0.1:2222)`);
  return { host: (m[1] ?? m[2])!, port };
});

/** Addresses and CIDRs of trusted proxies (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`). */
export const trustedAddresses = z._default(
  z.array(z.string().check(z.refine((s) => parseCidr(s) !== undefined, 'an IP address or CIDR, e.g. 10.0.0.0/8'))).check(z.maxLength(1000)),
  [],
);

export const sessionPolicy = z.strictObject({
  idleTimeout: z.optional(duration),
  idleWarning: z.optional(duration),
  idleActivity: z.optional(z.enum(['input', 'input+output'])),
  maxDuration: z.optional(duration),
  maxDurationWarning: z.optional(duration),
});

export const commandRule = z.union([
  z.strictObject({ deny: z.string(), message: z.optional(z.string()) }),
  z.strictObject({ warn: z.string(), message: z.optional(z.string()) }),
]);

/** A `deny` or `warn` rule of a grant's `commands`. */
export type CommandRule = z.output<typeof commandRule>;
