/**
 * Front-door authentication decisions: password (scrypt) and public key with the signature
 * verified. Unknown users and wrong secrets are indistinguishable to the client, down to the
 * scrypt work done.
 */
import type { AuthContext, ParsedKey } from 'ssh2';
import { utils as sshUtils } from './ssh2.js';
import type { Config } from './config.js';
import { verifyPassword } from './password.js';
import type { LoginOutcome } from '../machines/session.types.js';
import { parseLoginName, permissionsFor, resolveTarget, type Permission } from './grants.js';
import type { RecordingHealthState } from './recording/recording-health.js';

export type AuthVerdict =
  | { kind: 'accept' }
  /** Public key is acceptable; the client must now prove possession with a signature. */
  | { kind: 'pk-ok' }
  | { kind: 'reject'; counts: boolean; why: string; blocked?: true };

const keyCache = new WeakMap<object, ParsedKey[]>();

function userKeys(cfg: Config, user: string): ParsedKey[] {
  const entry = cfg.users[user];
  if (!entry) return [];
  let keys = keyCache.get(entry);
  if (!keys) {
    keys = entry.keys.flatMap((line) => {
      const k = sshUtils.parseKey(line);
      return k instanceof Error ? [] : Array.isArray(k) ? k : [k];
    });
    keyCache.set(entry, keys);
  }
  return keys;
}

export async function decide(cfg: Config, user: string, ctx: AuthContext): Promise<AuthVerdict> {
  switch (ctx.method) {
    case 'none':
      // Every OpenSSH client starts with "none" to learn the methods; not a failed attempt.
      return { kind: 'reject', counts: false, why: 'method none' };
    case 'password': {
      const ok = await verifyPassword(ctx.password, cfg.users[user]?.password);
      return ok ? { kind: 'accept' } : { kind: 'reject', counts: true, why: 'bad password or unknown user' };
    }
    case 'publickey': {
      const key = userKeys(cfg, user).find((k) => k.getPublicSSH().equals(ctx.key.data));
      if (!key) return { kind: 'reject', counts: true, why: 'key not authorised' };
      // "ssh-rsa" signatures are RSA with SHA-1; only rsa-sha2-256/512 are accepted.
      if (ctx.key.algo === 'ssh-rsa' && !ctx.hashAlgo) return { kind: 'reject', counts: true, why: 'ssh-rsa (SHA-1) signature refused' };
      if (!ctx.signature || !ctx.blob) return { kind: 'pk-ok' };
      const valid = key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
      return valid ? { kind: 'accept' } : { kind: 'reject', counts: true, why: 'bad signature' };
    }
    default:
      return { kind: 'reject', counts: false, why: `method ${ctx.method} not offered` };
  }
}

/**
 * The verdict for one attempt, with the fleet-wide source penalty applied first: a blocked
 * address gets "reject" whatever it sends (so a correct password does not tell it anything).
 */
export async function verdictFor(cfg: Config, user: string, ctx: AuthContext, sourceBlocked: Promise<boolean>): Promise<AuthVerdict> {
  if (!(await sourceBlocked)) return decide(cfg, user, ctx);
  return { kind: 'reject', counts: ctx.method !== 'none', why: 'source address blocked after repeated failures', blocked: true };
}

export interface LoginChecks {
  cfg: Config;
  /** False while Redis does not answer: nobody could see or kill the session. */
  registryAvailable(): boolean;
  /** Whether recordings can be written now (undefined: recording disabled). */
  recordingHealth?: { check(): Promise<RecordingHealthState> };
}

/**
 * What an authenticated login leads to: the registry and the recordings must be usable
 * (unless configured otherwise), then the grants decide between a target, the menu and a
 * refusal. The session machine routes on the answer.
 */
export async function loginOutcome(checks: LoginChecks, user: string, rawLogin: string): Promise<LoginOutcome<Permission>> {
  const { cfg } = checks;
  if (!checks.registryAvailable() && !cfg.registry.allowLoginsWhenUnavailable) return { kind: 'unavailable' };
  if (cfg.recording.enabled && checks.recordingHealth) {
    // Checked under `continue` too: the probe also watches the free space.
    const health = await checks.recordingHealth.check();
    if (!health.ok && cfg.recording.onFailure === 'terminate') return { kind: 'unrecordable', why: health.why };
  }
  const res = resolveTarget(permissionsFor(cfg, user), parseLoginName(rawLogin));
  if (res.kind === 'target') return { kind: 'target', permission: res.permission };
  if (res.kind === 'menu') return { kind: 'menu', choices: res.choices };
  return { kind: 'denied', message: res.message };
}
