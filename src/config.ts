/**
 * Configuration: one YAML file, validated at start. An error names the key path and what is
 * wrong ("grants[0].assets[1]: unknown asset \"web2\""). Relative paths are resolved against
 * the directory of the config file, so a config works from any working directory.
 */
import { dirname, join, resolve } from 'node:path';
import * as z from 'zod';
import { WardenError } from './errors.js';
import { parseConfigText, readConfigText } from './config-file.js';
import { filterFor } from './commands/command-filter.js';
import { admissionFields, envSchema, limitsSchema } from './config-bounds.js';
import { grantTransferPolicy, transferSchemas } from './transfers/transfer-config.js';
import type { TransferPolicy } from './transfers/transfer-policy.js';
import { commandRule, hostPort, publicKeyLine, sessionPolicy } from './config-fields.js';
import { byteSize, duration } from './config-units.js';
import { instanceSection, recordingSection, targetSection } from './config-sections.js';
import { connectionFields, withConnectionPaths } from './config-connection.js';
import { adminSchema } from './admin/admin-config.js';

const transfer = transferSchemas(byteSize);

const nameList = z.array(z.string().min(1)).min(1);


const schema = z
  .object({
    listen: hostPort.default({ host: '127.0.0.1', port: 2222 }),
    hostKeyFile: z.string().default('./data/host_ed25519'),
    ...connectionFields,
    instanceId: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
    /** `warden start` worker processes sharing the SSH port (the --workers flag wins); default one per core. */
    workers: z.number().int().min(1).max(64).optional(),
    auth: z
      .object({
        maxTries: z.number().int().min(1).max(100).default(6),
        loginGraceTime: duration.default(60_000),
        /** Failed attempts from one address, fleet-wide, before it is refused (0: off). */
        penaltyThreshold: z.number().int().min(0).default(30),
        penaltyWindow: duration.default(600_000),
        ...admissionFields,
      })
      .strict()
      .prefault({}),
    target: targetSection,
    clientKeepaliveInterval: duration.default(15_000),
    limits: limitsSchema,
    env: envSchema,
    instance: instanceSection,
    /** A stop (Ctrl-C, SIGTERM) ends within this; what Redis did not take goes to the journal. */
    shutdownTimeout: duration.default(10_000),
    session: sessionPolicy.default({}),
    recording: recordingSection,
    /** File transfers (sftp, scp, rsync): defaults for every grant; see src/transfers. */
    transfer: transfer.defaults,
    /** Audit events (JSON lines) go here, apart from the debug log. Default dataDir/audit.jsonl. */
    auditFile: z.string().optional(),
    /** Live watch (src/watch): whether the watched user reads a line when an admin starts and stops watching. */
    watch: z.object({ notifyUser: z.boolean().default(true) }).strict().prefault({}),
    /** The admin API (src/admin/); left out: no admin listener. */
    admin: adminSchema(hostPort).optional(),
    users: z.record(
      z.string().regex(/^[a-z_][a-z0-9_.-]{0,63}$/i, 'user names are letters, digits, _ . -'),
      z
        .object({
          password: z.string().startsWith('$scrypt$', 'must be the output of `warden hash-password`').optional(),
          keys: z.array(publicKeyLine).default([]),
        })
        .strict(),
    ),
    assets: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'asset names are letters, digits, _ . -'),
      z
        .object({
          host: z.string().min(1),
          port: z.number().int().min(1).max(65535).default(22),
          hostKey: z.union([z.literal('tofu'), publicKeyLine]).optional(),
        })
        .strict(),
    ),
    accounts: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'account names are letters, digits, _ . -'),
      z
        .object({
          username: z.string().min(1),
          privateKeyFile: z.string().optional(),
          passwordFile: z.string().optional(),
        })
        .strict()
        .refine((a) => a.privateKeyFile || a.passwordFile, 'needs privateKeyFile or passwordFile'),
    ),
    grants: z.array(
      z
        .object({
          users: nameList,
          assets: nameList,
          accounts: nameList,
          session: sessionPolicy.optional(),
          commands: z.array(commandRule).optional(),
          transfer: transfer.rules.optional(),
        })
        .strict(),
    ),
  })
  .strict();

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
