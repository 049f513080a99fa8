/**
 * The transfer log: each TransferEvent goes (from the BullMQ `transfers` worker) to a bounded
 * Redis stream, fleet-wide, and to dataDir/transfers/DAY.jsonl; `warden transfers` reads the
 * stream back, newest first, filtered.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RedisClient } from '../redis-connection.js';
import type { RedisKeys } from '../redis-keys.js';
import type { TransferEvent } from './transfer-event.js';
import { globToRegExp } from './transfer-policy.js';
import { readNewestFirst } from '../redis-stream.js';

const STREAM_MAX = 100_000;

export async function storeTransfer(redis: RedisClient, keys: RedisKeys, dataDir: string, e: TransferEvent): Promise<void> {
  const line = JSON.stringify(e);
  // A few indexed fields beside the whole event, so filters need not parse every entry.
  await redis.xadd(keys.transfers, 'MAXLEN', '~', String(STREAM_MAX), '*', 'session', e.session, 'user', e.user, 'asset', e.asset, 'event', line);
  const dir = join(dataDir, 'transfers');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await appendFile(join(dir, `${new Date(e.at).toISOString().slice(0, 10)}.jsonl`), `${line}\n`, { mode: 0o600 });
}

export interface TransferFilter {
  session?: string;
  user?: string;
  asset?: string;
  /** A glob over either path of the operation (`/srv/**`, `*.csv`). */
  path?: string;
  limit: number;
}

export async function queryTransfers(redis: RedisClient, keys: RedisKeys, f: TransferFilter): Promise<TransferEvent[]> {
  const pathRe = f.path === undefined ? undefined : globToRegExp(f.path);
  const base = f.path !== undefined && !f.path.includes('/');
  const pathMatches = (p: string | undefined) => p !== undefined && pathRe!.test(base ? p.slice(p.lastIndexOf('/') + 1) : p);
  return readNewestFirst(redis, keys.transfers, f.limit, (fields) => {
    if (f.session && !fields.session?.startsWith(f.session.toUpperCase())) return undefined;
    if (f.user && fields.user !== f.user) return undefined;
    if (f.asset && fields.asset !== f.asset) return undefined;
    const e = JSON.parse(fields.event ?? '{}') as TransferEvent;
    return pathRe && !pathMatches(e.path) && !pathMatches(e.path2) ? undefined : e;
  });
}
