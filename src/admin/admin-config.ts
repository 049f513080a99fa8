/**
 * The `admin:` section of the config: where the admin API listens, its TLS files, and who may
 * use it (people with a password, scripts with a bearer token), each with a role. Kept apart
 * from config.ts so the main schema stays readable.
 */
import * as z from 'zod';
import { duration } from '../config-units.js';

export const ADMIN_ROLES = ['operator', 'viewer'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 letters, digits, _ . -');

/** Loopback only: anything else carries passwords and cookies over the network. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Built with config.ts's HOST:PORT parser (passed in: config.ts imports this module). */
export const adminSchema = (listen: z.ZodType<{ host: string; port: number }, string>) => z
  .object({
    listen,
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    /** Allow a non-loopback listen without TLS (behind a TLS-terminating proxy, say). */
    insecure: z.boolean().default(false),
    admins: z
      .record(name, z.object({ password: z.string().startsWith('$scrypt$', 'must be the output of `warden hash-password`'), role: z.enum(ADMIN_ROLES) }).strict())
      .default({}),
    tokens: z
      .record(name, z.object({ hash: z.string().regex(/^\$sha256\$[0-9a-f]{64}$/, 'must be the output of `warden hash-token`'), role: z.enum(ADMIN_ROLES) }).strict())
      .default({}),
    /** Browser sessions last this long without use (ms). */
    sessionTtl: z.number().int().min(60_000).default(8 * 3_600_000),
    /** Failed logins per source and per name in one minute before 429. */
    loginAttempts: z.number().int().min(1).max(1000).default(5),
    /**
     * The URL other instances reach this admin API at (recording proxy). Default: the
     * listen address, which is wrong for a wildcard listen (0.0.0.0) or behind NAT.
     */
    advertise: z.string().url().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional(),
    /** Concurrent Server-Sent Events streams (GET /api/events) on this instance. */
    eventStreams: z.number().int().min(1).max(10_000).default(100),
    /** A comment line on idle event streams this often (ms), so proxies do not close them. */
    eventsHeartbeat: duration.pipe(z.number().min(100).max(300_000)).default(15_000),
    /** GET /metrics needs a token or session when true. */
    metricsAuth: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (!a.tls && !a.insecure && !isLoopback(a.listen.host)) {
      ctx.addIssue({ code: 'custom', path: ['listen'], message: `${a.listen.host} is not loopback: set tls: { cert, key } (or insecure: true behind a TLS proxy)` });
    }
  });

export type AdminConfig = z.output<ReturnType<typeof adminSchema>>;
