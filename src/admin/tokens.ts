/**
 * Bearer tokens for scripts. A token is 32 random bytes (base64url), so a fast SHA-256 of it is
 * as strong as a slow password hash and can be checked on every request; the config stores
 * only `$sha256$<hex>` (the output of `warden hash-token`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return `$sha256$${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** The name of the token whose hash matches, compared in constant time per entry. */
export function matchToken<T extends { hash: string }>(token: string, tokens: Record<string, T>): [string, T] | undefined {
  const want = Buffer.from(hashToken(token));
  for (const entry of Object.entries(tokens)) {
    const have = Buffer.from(entry[1].hash);
    if (have.length === want.length && timingSafeEqual(have, want)) return entry;
  }
  return undefined;
}
