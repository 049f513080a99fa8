/**
 * Session ids are ULIDs made locally: time-sortable, so `--all` lists read in order, and no
 * session ever waits on Redis to exist. The monotonic factory keeps ids made in the same
 * millisecond ordered too. Reading an id an admin typed is id-prefix.ts.
 */
import { hostname } from 'node:os';
import { monotonicFactory } from 'ulid';

const next = monotonicFactory();

export function newSessionId(now = Date.now()): string {
  return next(now);
}

/** An instance id for a process without a configured one: the host name and a random tail. */
export function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${newSessionId().slice(-8).toLowerCase()}`;
}
