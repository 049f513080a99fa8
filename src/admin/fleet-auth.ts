/**
 * How one instance's admin API asks another for something on its disk (a recording) without
 * forwarding the admin's own credentials. The fleet shares one random secret in Redis (made by
 * whichever instance needs it first); a request carries an HMAC over what it asks for (method,
 * path, which admin it acts for, which instance asks, when), so a signature seen on the wire
 * opens only that one path for FRESH_MS and cannot be turned into anything else.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../redis-connection.js';
import type { RedisKeys } from '../redis-keys.js';

export const FLEET_HEADER = 'x-warden-fleet';
const FRESH_MS = 30_000;

/** The fleet secret, created once for the whole fleet (SET NX: the first one wins). */
export async function fleetSecret(redis: RedisClient, keys: RedisKeys): Promise<Buffer> {
  await redis.set(keys.fleetSecret, randomBytes(32).toString('base64url'), 'NX');
  const secret = await redis.get(keys.fleetSecret);
  if (!secret) throw new Error('fleet secret missing right after SET NX');
  return Buffer.from(secret, 'utf8');
}

export interface FleetClaim {
  /** The instance asking. */
  from: string;
  /** The admin it acts for (audited by the owner too). */
  admin: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

function mac(secret: Buffer, method: string, path: string, ts: number, claim: FleetClaim): Buffer {
  return createHmac('sha256', secret).update(`${method}\n${path}\n${ts}\n${claim.from}\n${claim.admin}`).digest();
}

/** The header value for one request: `<ts>.<from>.<admin>.<hmac>`, names in base64url. */
export function signFleetRequest(secret: Buffer, method: string, path: string, claim: FleetClaim, now = Date.now()): string {
  return [now, b64(claim.from), b64(claim.admin), mac(secret, method, path, now, claim).toString('base64url')].join('.');
}

/** The claim of a correctly signed, fresh request; undefined otherwise. */
export function verifyFleetRequest(secret: Buffer, method: string, path: string, header: string | undefined, now = Date.now()): FleetClaim | undefined {
  const parts = (header ?? '').split('.');
  if (parts.length !== 4) return undefined;
  const [tsText, from, admin, sig] = parts as [string, string, string, string];
  const ts = Number(tsText);
  if (!Number.isSafeInteger(ts) || Math.abs(now - ts) > FRESH_MS) return undefined;
  const claim = { from: Buffer.from(from, 'base64url').toString('utf8'), admin: Buffer.from(admin, 'base64url').toString('utf8') };
  const want = mac(secret, method, path, ts, claim);
  const got = Buffer.from(sig, 'base64url');
  return got.length === want.length && timingSafeEqual(got, want) ? claim : undefined;
}
