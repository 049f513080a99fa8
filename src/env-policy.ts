/**
 * Which environment variables a client may pass to the target (`env.allow`), like sshd's
 * AcceptEnv. GIT_PROTOCOL is in the default: without it git falls back from protocol v2 to v0.
 * TERM is not an env request at all (it travels in the pty request).
 */

export const DEFAULT_ENV_ALLOW = ['LANG', 'LC_*', 'GIT_PROTOCOL'] as const;

/** Bounds on what one channel may set: the names and values end up in a request to the target. */
export const MAX_ENV_VARS = 32;
export const MAX_ENV_NAME_BYTES = 64;
export const MAX_ENV_VALUE_BYTES = 1024;

export type EnvVerdict = 'accept' | 'not_allowed' | 'too_many' | 'too_long';

export class EnvPolicy {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];

  constructor(allow: readonly string[]) {
    for (const pattern of allow) {
      if (pattern.endsWith('*')) this.prefixes.push(pattern.slice(0, -1));
      else this.exact.add(pattern);
    }
  }

  allows(name: string): boolean {
    return this.exact.has(name) || this.prefixes.some((p) => name.startsWith(p));
  }

  /** The verdict on one `env` request of a channel that already holds `held` variables. */
  judge(name: string, value: string, held: number): EnvVerdict {
    if (Buffer.byteLength(name) > MAX_ENV_NAME_BYTES || Buffer.byteLength(value) > MAX_ENV_VALUE_BYTES) return 'too_long';
    if (!this.allows(name)) return 'not_allowed';
    return held >= MAX_ENV_VARS ? 'too_many' : 'accept';
  }
}
