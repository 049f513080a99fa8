/**
 * Configuration: one YAML file, validated at start. An error names the key path and what is
 * wrong ("grants[0].assets[1]: unknown asset \"web2\""). Relative paths are resolved against
 * the directory of the config file, so a config works from any working directory.
 */
import { dirname, join, resolve } from 'node:path';
import { WardenError } from './errors.js';
import { parseConfigText, readConfigText } from './config-file.js';
import { filterFor } from './commands/command-filter.js';
import { admissionFields, envSchema, limitsSchema } from './config-bounds.js';
import { grantTransferPolicy, transferDefaults, transferRules } from './transfers/transfer-config.js';
import type { TransferPolicy } from './transfers/transfer-policy.js';
import { commandRule, hostPort, publicKeyLine, sessionPolicy, trustedAddresses } from './config-fields.js';
import { duration } from './config-units.js';
import { instanceSection, recordingSection, section, targetSection } from './config-sections.js';
import { connectionFields, withConnectionPaths } from './config-connection.js';
import { adminSchema } from './admin/admin-config.js';
import { CIPHERS, KEX, MACS } from './ssh-algorithms.js';
import * as z from './zod.js';

const nameList = z.array(z.string().check(z.minLength(1))).check(z.minLength(1));
/** A non-empty, duplicate-free subset of `offered`, in the order given. */
const algorithmList = (offered: string[]) =>
  z.optional(
    z.array(z.string().check(z.refine((a) => offered.includes(a), `not one Warden offers (${offered.join(', ')})`)))
      .check(z.minLength(1), z.refine((list) => new Set(list).size === list.length, 'lists an algorithm twice')),
  );
/** A table's key: a user, asset or account name. */
const tableKey = (pattern: RegExp, message: string) => z.string().check(z.regex(pattern, message));

const schema = z.strictObject({
  listen: z._default(hostPort, { host: '127.0.0.1', port: 2222 }),
  hostKeyFile: z._default(z.string(), './data/host_ed25519'),
  /** Load balancers in front of `listen` that send the PROXY protocol (v1 or v2): connections
   *  from these addresses must start with it, and the client's address is taken from it. */
  proxyProtocol: section({ trusted: trustedAddresses }),
  /** What the front door offers clients, in order of preference: subsets of Warden's lists
   *  (a hardening guide's choice, e.g. without the NIST curves); left out: all of them. */
  algorithms: section({ kex: algorithmList(KEX), ciphers: algorithmList(CIPHERS), macs: algorithmList(MACS) }),
  ...connectionFields,
  instanceId: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.-]+$/))),
  /** `warden start` worker processes sharing the SSH port (the --workers flag wins); default one per core. */
  workers: z.optional(z.int().check(z.minimum(1), z.maximum(64))),
  auth: section({
    maxTries: z._default(z.int().check(z.minimum(1), z.maximum(100)), 6),
    loginGraceTime: z._default(duration, 60_000),
    /** Failed attempts from one address, fleet-wide, before it is refused (0: off). */
    penaltyThreshold: z._default(z.int().check(z.minimum(0)), 30),
    penaltyWindow: z._default(duration, 600_000),
    ...admissionFields,
  }),
  target: targetSection,
  clientKeepaliveInterval: z._default(duration, 15_000),
  limits: limitsSchema,
  env: envSchema,
  instance: instanceSection,
  /** A stop (Ctrl-C, SIGTERM) ends within this; what Redis did not take goes to the journal. */
  shutdownTimeout: z._default(duration, 10_000),
  session: z._default(sessionPolicy, {}),
  recording: recordingSection,
  /** File transfers (sftp, scp, rsync): defaults for every grant; see src/transfers. */
  transfer: transferDefaults,
  /** Audit events (JSON lines) go here, apart from the debug log. Default dataDir/audit.jsonl. */
  auditFile: z.optional(z.string()),
  /** Live watch (src/watch): whether the watched user reads a line when an admin starts and stops watching. */
  watch: section({ notifyUser: z._default(z.boolean(), true) }),
  /** The admin API (src/admin/); left out: no admin listener. */
  admin: z.optional(adminSchema),
  users: z.record(
    tableKey(/^[a-z_][a-z0-9_.-]{0,63}$/i, 'user names are letters, digits, _ . -'),
    z.strictObject({
      password: z.optional(z.string().check(z.startsWith('$scrypt$', 'must be the output of `warden hash-password`'))),
      keys: z._default(z.array(publicKeyLine), []),
    }),
  ),
  assets: z.record(
    tableKey(/^[A-Za-z0-9_.-]+$/, 'asset names are letters, digits, _ . -'),
    z.strictObject({
      host: z.string().check(z.minLength(1)),
      port: z._default(z.int().check(z.minimum(1), z.maximum(65535)), 22),
      hostKey: z.optional(z.union([z.literal('tofu'), publicKeyLine])),
    }),
  ),
  accounts: z.record(
    tableKey(/^[A-Za-z0-9_.-]+$/, 'account names are letters, digits, _ . -'),
    z
      .strictObject({
        username: z.string().check(z.minLength(1)),
        privateKeyFile: z.optional(z.string()),
        passwordFile: z.optional(z.string()),
      })
      .check(z.refine((a) => a.privateKeyFile || a.passwordFile, 'needs privateKeyFile or passwordFile')),
  ),
  grants: z.array(
    z.strictObject({
      users: nameList,
      assets: nameList,
      accounts: nameList,
      session: z.optional(sessionPolicy),
      commands: z.optional(z.array(commandRule)),
      transfer: z.optional(transferRules),
    }),
  ),
});

export type RawConfig = z.output<typeof schema>;
export type { RedisSetting } from './config-redis.js';
export type SessionPolicyConfig = z.output<typeof sessionPolicy>;
export type GrantConfig = RawConfig['grants'][number];
export interface Config extends RawConfig {
  /** Absolute path of the file this came from; relative paths were resolved against its dir. */
  file: string;
  /** Each grant's transfer policy (its rules over the top-level ones), compiled at load. */
  transferPolicies: TransferPolicy[];
}

/** Cross-references zod cannot express: grants must name users, assets and accounts that exist. */
function checkReferences(cfg: RawConfig): string[] {
  const problems: string[] = [];
  cfg.grants.forEach((grant, gi) => {
    for (const [field, table] of [['users', cfg.users], ['assets', cfg.assets], ['accounts', cfg.accounts]] as const) {
      grant[field].forEach((name, ni) => {
        if (name !== '*' && !(name in table)) {
          problems.push(`grants[${gi}].${field}[${ni}]: unknown ${field.slice(0, -1)} "${name}"`);
        }
      });
    }
    try {
      if (grant.commands) filterFor(grant.commands);
    } catch (err) {
      problems.push(`grants[${gi}].commands: ${(err as Error).message}`);
    }
    if (!cfg.transfer.audit && !grantTransferPolicy(cfg.transfer, grant.transfer).permissive) problems.push(`grants[${gi}].transfer: restricts transfers, which needs transfer.audit: true`);
  });
  for (const [name, user] of Object.entries(cfg.users)) {
    if (!user.password && user.keys.length === 0) problems.push(`users.${name}: needs a password or at least one key`);
  }
  return problems;
}

export function parseConfig(text: string, file: string): Config {
  const cfg = parseConfigText(schema, text, file);
  const problems = checkReferences(cfg);
  if (problems.length) throw new WardenError('CONFIG_INVALID', `${file}:\n  ${problems.join('\n  ')}`);

  const base = dirname(resolve(file));
  const abs = (p: string) => resolve(base, p);
  return {
    ...withConnectionPaths(cfg, file),
    hostKeyFile: abs(cfg.hostKeyFile),
    recording: { ...cfg.recording, dir: cfg.recording.dir && abs(cfg.recording.dir) },
    transfer: { ...cfg.transfer, keep: { ...cfg.transfer.keep, dir: abs(cfg.transfer.keep.dir ?? join(cfg.dataDir, 'transfers', 'kept')) } },
    transferPolicies: cfg.grants.map((g) => grantTransferPolicy(cfg.transfer, g.transfer)),
    auditFile: cfg.auditFile && abs(cfg.auditFile),
    admin: cfg.admin && { ...cfg.admin, tls: cfg.admin.tls && { cert: abs(cfg.admin.tls.cert), key: abs(cfg.admin.tls.key) } },
    accounts: Object.fromEntries(
      Object.entries(cfg.accounts).map(([name, a]) => [
        name,
        {
          ...a,
          privateKeyFile: a.privateKeyFile && abs(a.privateKeyFile),
          passwordFile: a.passwordFile && abs(a.passwordFile),
        },
      ]),
    ),
  };
}

export function loadConfig(file: string): Config {
  return parseConfig(readConfigText(file), file);
}
