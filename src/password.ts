/**
 * Password hashes: scrypt from node:crypto, in a self-describing string
 * `$scrypt$N=16384,r=8,p=1$<salt>$<hash>` (base64). Verification runs on the libuv pool, so a
 * burst of logins does not stall the relay.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LEN = 32;
const DEFAULT = { N: 16384, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LEN, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, DEFAULT);
  return `$scrypt$N=${DEFAULT.N},r=${DEFAULT.r},p=${DEFAULT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function parse(hash: string): { opts: ScryptOptions; salt: Buffer; key: Buffer } | undefined {
  const m = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return undefined;
  return {
    opts: { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) },
    salt: Buffer.from(m[4]!, 'base64'),
    key: Buffer.from(m[5]!, 'base64'),
  };
}

/** A fixed hash to verify against when the user is unknown, so timing does not tell. */
const DUMMY = '$scrypt$N=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const parsed = parse(hash ?? DUMMY) ?? parse(DUMMY)!;
  const key = await scrypt(password, parsed.salt, parsed.opts);
  return hash !== undefined && key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}
