/**
 * Target host keys: pinned per asset in config, or trusted on first use and remembered in
 * Redis. The verdict is reached during key exchange, before any credential is sent.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';
import { parseKey } from './ssh-key-parser.js';
import type { RedisKeys } from './redis-keys.js';

export interface HostKey {
  type: string;
  blob: Buffer;
}

/** "ssh-ed25519 AAAA... comment" → type and raw blob. */
export function parseHostKeyLine(line: string): HostKey {
  const parsed = parseKey(line);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return { type: key.type, blob: key.getPublicSSH() };
}

/** The type name inside an SSH public key blob (first length-prefixed string). */
export function blobType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function keyLine(blob: Buffer): string {
  return `${blobType(blob)} ${blob.toString('base64')}`;
}

/** Host key algorithms to offer so the target presents the pinned key type. */
export function hostKeyAlgorithms(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256'];
  return [type];
}

export class HostKeyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async get(asset: string): Promise<HostKey | undefined> {
    const line = await this.redis.hget(this.keys.hostKeys, asset);
    return line ? parseHostKeyLine(line) : undefined;
  }

  /**
   * Remember the first key seen for an asset. If another instance won the race, its key is
   * returned and the caller compares against that.
   */
  async trustFirst(asset: string, blob: Buffer): Promise<HostKey> {
    const created = await this.redis.hsetnx(this.keys.hostKeys, asset, keyLine(blob));
    if (created === 1) return { type: blobType(blob), blob };
    return (await this.get(asset))!;
  }

  async list(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.hostKeys);
  }

  async forget(asset: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.hostKeys, asset)) === 1;
  }
}
