/**
 * The `admin:` section of the config: where the admin API listens, its TLS files, and who may
 * use it (people with a password, scripts with a bearer token), each with a role. Kept apart
 * from config.ts so the main schema stays readable.
 */
import { hostPort, trustedAddresses } from '../config-fields.js';
import { duration } from '../config-units.js';
import * as z from '../zod.js';

export const ADMIN_ROLES = ['operator', 'viewer'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

const name = z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 letters, digits, _ . -'));

/** Loopback only: anything else carries passwords and cookies over the network. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const adminSchema = z
  .strictObject({
    listen: hostPort,
    tls: z.optional(z.strictObject({ cert: z.string().check(z.minLength(1)), key: z.string().check(z.minLength(1)) })),
    /** Allow a non-loopback listen without TLS (behind a TLS-terminating proxy, say). */
    insecure: z._default(z.boolean(), false),
    /** Reverse proxies in front of the API: from these peers, the client's address and scheme
     *  come from X-Forwarded-For / X-Forwarded-Proto (login limits, audit, Secure cookies). */
    trustedProxies: trustedAddresses,
    admins: z._default(
      z.record(name, z.strictObject({ password: z.string().check(z.startsWith('$scrypt$', 'must be the output of `warden hash-password`')), role: z.enum(ADMIN_ROLES) })),
      {},
    ),
    tokens: z._default(
      z.record(name, z.strictObject({ hash: z.string().check(z.regex(/^\$sha256\$[0-9a-f]{64}$/, 'must be the output of `warden hash-token`')), role: z.enum(ADMIN_ROLES) })),
      {},
    ),
    /** Browser sessions last this long without use (ms). */
    sessionTtl: z._default(z.int().check(z.minimum(60_000)), 8 * 3_600_000),
    /** Failed logins per source and per name in one minute before 429. */
    loginAttempts: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 5),
    /**
     * The URL other instances reach this admin API at (recording proxy). Default: the
     * listen address, which is wrong for a wildcard listen (0.0.0.0) or behind NAT.
     */
    advertise: z.optional(z.url().check(z.regex(/^https?:\/\//, 'must be an http:// or https:// URL'))),
    /** Concurrent Server-Sent Events streams (GET /api/events) on this instance. */
    eventStreams: z._default(z.int().check(z.minimum(1), z.maximum(10_000)), 100),
    /** A comment line on idle event streams this often (ms), so proxies do not close them. */
    eventsHeartbeat: z._default(z.pipe(duration, z.number().check(z.minimum(100), z.maximum(300_000))), 15_000),
    /** GET /metrics needs a token or session when true. */
    metricsAuth: z._default(z.boolean(), false),
  })
  .check(
    z.superRefine((a, ctx) => {
      if (!a.tls && !a.insecure && !isLoopback(a.listen.host)) {
        ctx.addIssue({ code: 'custom', path: ['listen'], message: `${a.listen.host} is not loopback: set tls: { cert, key } (or insecure: true behind a TLS proxy)` });
      }
    }),
  );

export type AdminConfig = z.output<typeof adminSchema>;
