/**
 * Session ids are ULIDs made locally: time-sortable, so `--all` lists read in order, and no
 * session ever waits on Redis to exist. The monotonic factory keeps ids made in the same
 * millisecond ordered too.
 */
import { hostname } from 'node:os';
import { monotonicFactory } from 'ulid';

const next = monotonicFactory();

/** Every session id's length: a ULID's 26 characters. */
export const SESSION_ID_LENGTH = 26;

export function newSessionId(now = Date.now()): string {
  return next(now);
}

/** Lower-case on input, ULIDs are upper-case Crockford base32; accept either. */
export function normaliseIdPrefix(prefix: string): string {
  return prefix.trim().toUpperCase();
}

/** An instance id for a process without a configured one: the host name and a random tail. */
export function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${newSessionId().slice(-8).toLowerCase()}`;
}
