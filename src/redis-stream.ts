/**
 * Reading a bounded log stream (commands, transfers) newest first, a page at a time, keeping
 * the entries a filter accepts, until `limit` of them are found or the stream is exhausted (or
 * reaches `min`, a stream id such as a time in ms).
 */
import type { RedisClient } from './redis-connection.js';

const PAGE = 1000;

export async function readNewestFirst<T>(redis: RedisClient, key: string, limit: number, pick: (fields: Record<string, string>) => T | undefined, min = '-'): Promise<T[]> {
  const out: T[] = [];
  let end = '+';
  while (out.length < limit) {
    const batch = await redis.xrevrange(key, end, min, 'COUNT', PAGE);
    if (batch.length === 0) break;
    for (const [, flat] of batch) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      const entry = pick(fields);
      if (entry === undefined) continue;
      out.push(entry);
      if (out.length >= limit) break;
    }
    const lastId = batch[batch.length - 1]![0];
    const [ms, seq] = lastId.split('-').map(Number) as [number, number];
    end = seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}`;
    if (batch.length < PAGE) break;
  }
  return out;
}
