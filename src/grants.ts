/**
 * Grants: which (asset, account) pairs a user may reach, with the effective policy of each.
 * Pure functions over the validated config.
 */
import type { SessionPolicy, TargetGrant } from '../machines/session.types.js';
import type { Config, GrantConfig, SessionPolicyConfig } from './config.js';
import type { CommandRule } from './config-fields.js';
import { printable } from './text.js';
import type { TransferPolicy } from './transfers/transfer-policy.js';

export type { SessionPolicy };

/** One (asset, account) a user may reach, with the effective policy of its grant. */
export interface Permission extends TargetGrant {
  host: string;
  port: number;
  username: string;
  commands: readonly CommandRule[];
  /** What the grant allows with files (sftp, scp, rsync). */
  transfer: TransferPolicy;
}

const DEFAULT_POLICY: SessionPolicy = {
  idleTimeoutMs: 30 * 60_000,
  idleWarningMs: 60_000,
  idleActivity: 'input',
  maxDurationWarningMs: 5 * 60_000,
};

function mergePolicy(base: SessionPolicy, over: SessionPolicyConfig | undefined): SessionPolicy {
  if (!over) return base;
  return {
    idleTimeoutMs: over.idleTimeout ?? base.idleTimeoutMs,
    idleWarningMs: over.idleWarning ?? base.idleWarningMs,
    idleActivity: over.idleActivity ?? base.idleActivity,
    maxDurationMs: over.maxDuration ?? base.maxDurationMs,
    maxDurationWarningMs: over.maxDurationWarning ?? base.maxDurationWarningMs,
  };
}

const matches = (list: string[], name: string) => list.includes('*') || list.includes(name);

/** Every target the user may reach, sorted by asset then account. First matching grant wins. */
export function permissionsFor(cfg: Config, user: string): Permission[] {
  const globalPolicy = mergePolicy(DEFAULT_POLICY, cfg.session);
  const seen = new Map<string, Permission>();
  for (const [gi, grant] of cfg.grants.entries()) {
    if (!matches(grant.users, user)) continue;
    for (const [assetName, asset] of Object.entries(cfg.assets)) {
      if (!matches(grant.assets, assetName)) continue;
      for (const [accountName, account] of Object.entries(cfg.accounts)) {
        if (!matches(grant.accounts, accountName)) continue;
        const key = `${assetName}\u0000${accountName}`;
        if (seen.has(key)) continue;
        seen.set(key, {
          asset: assetName,
          account: accountName,
          host: asset.host,
          port: asset.port,
          username: account.username,
          policy: mergePolicy(globalPolicy, grant.session),
          commands: grant.commands ?? [],
          transfer: cfg.transferPolicies[gi]!,
        });
      }
    }
  }
  return [...seen.values()].sort((a, b) => a.asset.localeCompare(b.asset) || a.account.localeCompare(b.account));
}

export interface LoginName {
  user: string;
  asset?: string;
  account?: string;
}

/**
 * The SSH login name carries the target: `alice`, `alice@web1` or `alice@deploy@web1`
 * (OpenSSH splits `alice@deploy@web1@bastion` at the last @, so the rest reaches us intact).
 */
export function parseLoginName(login: string): LoginName {
  const parts = login.split('@');
  if (parts.length >= 3) return { user: parts[0]!, account: parts[1]!, asset: parts.slice(2).join('@') };
  if (parts.length === 2) return { user: parts[0]!, asset: parts[1]! };
  return { user: login };
}

export type Resolution =
  | { kind: 'menu'; choices: Permission[] }
  | { kind: 'target'; permission: Permission }
  | { kind: 'denied'; message: string };

/** Decide what a login name asks for, without contacting anything. */
export function resolveTarget(perms: Permission[], login: LoginName): Resolution {
  if (login.asset === undefined) {
    if (perms.length === 0) return { kind: 'denied', message: 'you have no grants; ask an admin for access' };
    return { kind: 'menu', choices: perms };
  }
  const onAsset = perms.filter((p) => p.asset === login.asset);
  const asset = printable(login.asset, 64);
  if (login.account !== undefined) {
    const hit = onAsset.find((p) => p.account === login.account);
    return hit
      ? { kind: 'target', permission: hit }
      : { kind: 'denied', message: `no grant for account "${printable(login.account, 64)}" on asset "${asset}"` };
  }
  if (onAsset.length === 1) return { kind: 'target', permission: onAsset[0]! };
  if (onAsset.length === 0) return { kind: 'denied', message: `no grant for asset "${asset}"` };
  return {
    kind: 'denied',
    message: `several accounts on "${asset}" (${onAsset.map((p) => p.account).join(', ')}); log in as ${printable(login.user, 64)}@ACCOUNT@${asset}`,
  };
}
