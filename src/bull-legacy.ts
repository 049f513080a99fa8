/**
 * BullMQ queues used to live under `<prefix>:bull` (no hash tag, so BullMQ's multi-key scripts
 * could fail with CROSSSLOT on Redis Cluster); they now live under `{<prefix>}:bull`. At start,
 * jobs still waiting in this instance's legacy audit queues (recordings to finish, command log
 * entries to store) are moved to the new ones, so an upgrade loses no audit data. Legacy control
 * jobs (kills, idle checks) belonged to sessions of the previous process, which are gone: they
 * are dropped with their queue.
 */
import { Queue, type JobType } from 'bullmq';
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection.js';
import type { Logger } from './logger.js';
import type { RedisKeys } from './redis-keys.js';

const STATES: JobType[] = ['waiting', 'delayed', 'prioritized', 'failed'];
const PAGE = 500;

/** Move the legacy queue's jobs (bounded per call) to the same queue under the new prefix. */
async function moveJobs(name: string, redis: RedisClient, keys: RedisKeys): Promise<number> {
  const from = new Queue(name, { connection: redis, prefix: keys.legacyBullPrefix });
  const to = new Queue(name, { connection: redis, prefix: keys.bullPrefix });
  let moved = 0;
  try {
    for (let round = 0; round < 100; round++) {
      const jobs = await from.getJobs(STATES, 0, PAGE - 1);
      if (jobs.length === 0) break;
      for (const job of jobs) {
        await to.add(job.name, job.data, { removeOnComplete: true, removeOnFail: { age: 86_400 } });
        await job.remove().catch(() => {});
        moved++;
      }
    }
    // Nothing left in any state: remove the legacy queue's bookkeeping keys too.
    const counts = await from.getJobCounts();
    if (Object.values(counts).every((n) => n === 0)) await from.obliterate();
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
  return moved;
}

export async function migrateLegacyQueues(redis: RedisClient, keys: RedisKeys, instanceId: string, log: Logger): Promise<void> {
  // On a Cluster the untagged layout never worked (BullMQ's scripts fail with CROSSSLOT), so
  // there is nothing to move; and a multi-key EXISTS across those keys would itself fail.
  if (keys.legacyBullPrefix === keys.bullPrefix || redis instanceof Cluster) return;
  // Cheap check first: no legacy key for these queues, nothing to do (the usual case).
  const names = [`records-${instanceId}`, 'commands'];
  const present = await Promise.all(names.map((n) => redis.exists(`${keys.legacyBullPrefix}:${n}:meta`, `${keys.legacyBullPrefix}:${n}:wait`, `${keys.legacyBullPrefix}:${n}:delayed`)));
  let moved = 0;
  for (const [i, name] of names.entries()) if (present[i]) moved += await moveJobs(name, redis, keys);
  const control = new Queue(keys.controlQueue(instanceId), { connection: redis, prefix: keys.legacyBullPrefix });
  try {
    if (await redis.exists(`${keys.legacyBullPrefix}:${keys.controlQueue(instanceId)}:meta`)) await control.obliterate({ force: true });
  } finally {
    await control.close();
  }
  if (moved) log.info({ moved }, 'moved audit jobs from the legacy BullMQ prefix');
}
