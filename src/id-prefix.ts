/**
 * Session ids as an admin types them: the whole id or any unique prefix, in either case. Apart
 * from ids.ts, which makes ids: reading one needs neither ulid nor the node:crypto that ulid
 * loads, and a cold `warden kill` loads neither.
 */

/** Every session id's length: a ULID's 26 characters. */
export const SESSION_ID_LENGTH = 26;

/** Lower-case on input, ULIDs are upper-case Crockford base32; accept either. */
export function normaliseIdPrefix(prefix: string): string {
  return prefix.trim().toUpperCase();
}
