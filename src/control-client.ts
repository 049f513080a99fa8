/**
 * The admin side of session control, used by `warden kill` from any machine that reaches
 * Redis: find the owner of a session in the registry and put a kill job on its control
 * queue, then wait for the owner's acknowledgement. If the owner is dead, finalise its
 * sessions as `instance_lost` instead of waiting for a worker that will never come.
 */
import { Queue, QueueEvents } from 'bullmq';
import { duplicateBlocking, type RedisClient } from './redis-connection.js';
import { killJobId, type ControlJob, type KillResult } from './control-plane.js';
import { InstanceRegistry } from './instance-registry.js';
import type { RedisKeys } from './redis-keys.js';
import type { Registry } from './registry.js';

export type KillReport =
  | (KillResult & { totalMs: number })
  | { outcome: 'instance_lost'; sessionId: string; instance: string; totalMs: number }
  | { outcome: 'timeout'; sessionId: string; instance: string; totalMs: number };

export interface KillRequest {
  by: string;
  reason?: string;
  timeoutMs: number;
}

export class ControlClient {
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents; blocking: RedisClient }>();
  private readonly instances: InstanceRegistry;

  constructor(
    private readonly redis: RedisClient,
    private readonly registry: Registry,
    private readonly keys: RedisKeys,
  ) {
    this.instances = new InstanceRegistry(redis, keys);
  }

  private async channel(instance: string): Promise<{ queue: Queue; events: QueueEvents; blocking: RedisClient }> {
    let ch = this.queues.get(instance);
    if (!ch) {
      const name = this.keys.controlQueue(instance);
      const opts = { connection: this.redis, prefix: this.keys.bullPrefix };
      // QueueEvents blocks on XREAD, so it needs its own connection (which BullMQ does not
      // close when it is handed in: close() does).
      const blocking = duplicateBlocking(this.redis);
      blocking.on('error', () => {});
      const queue = new Queue(name, opts);
      // QueueEvents reads from '$' when its first XREAD reaches Redis, which can be after the
      // owner has already acknowledged (a cold CLI, a busy cluster): the acknowledgement
      // would be missed and the kill reported as a timeout. Read from the stream's current
      // end instead, taken before the job is added.
      const [last] = await this.redis.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
      ch = { queue, events: new QueueEvents(name, { ...opts, connection: blocking, lastEventId: last?.[0] ?? '0-0' }), blocking };
      this.queues.set(instance, ch);
      await ch.events.waitUntilReady();
    }
    return ch;
  }

  /** Kill one session by full id (resolve prefixes with Registry.resolve first). */
  async kill(sessionId: string, req: KillRequest): Promise<KillReport> {
    const started = performance.now();
    const took = () => Math.round((performance.now() - started) * 10) / 10;
    const rec = await this.registry.get(sessionId);
    if (!rec) return { outcome: 'not_found', sessionId, instance: '', ms: 0, totalMs: took() };
    if (rec.state === 'finished') return { outcome: 'already_finished', sessionId, instance: rec.instance, ms: 0, reason: rec.reason, totalMs: took() };
    if (!(await this.instances.alive(rec.instance))) return this.lost(rec.instance, sessionId, took);

    const { queue, events } = await this.channel(rec.instance);
    const data: ControlJob = { kind: 'kill', sessionId, by: req.by, reason: req.reason };
    // The job id makes a duplicate kill (two admins, a retry) join the first one.
    const job = await queue.add('kill', data, { jobId: killJobId(sessionId), removeOnComplete: { age: 60 }, removeOnFail: { age: 3600 } });
    try {
      const result = (await job.waitUntilFinished(events, req.timeoutMs)) as KillResult;
      return { ...result, totalMs: took() };
    } catch {
      // No answer: the owner may have died after the lease check.
      if (!(await this.instances.alive(rec.instance))) return this.lost(rec.instance, sessionId, took);
      return { outcome: 'timeout', sessionId, instance: rec.instance, totalMs: took() };
    }
  }

  private async lost(instance: string, sessionId: string, took: () => number): Promise<KillReport> {
    await this.registry.reapInstance(instance);
    return { outcome: 'instance_lost', sessionId, instance, totalMs: took() };
  }

  async close(): Promise<void> {
    for (const { queue, events, blocking } of this.queues.values()) {
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
      blocking.disconnect();
    }
  }
}

export function describeKill(r: KillReport, by: string): string {
  switch (r.outcome) {
    case 'killed':
      return `Killed session ${r.sessionId} on ${r.instance} (user notified "Terminated by admin ${by}"); acknowledged in ${r.totalMs} ms.`;
    case 'already_finished':
      return `Session ${r.sessionId} had already finished (${r.reason ?? 'unknown reason'}); nothing to do.`;
    case 'not_found':
      return `No session ${r.sessionId} (see \`warden sessions --all\`).`;
    case 'instance_lost':
      return `The instance ${r.instance} that owned ${r.sessionId} is gone (lease expired); its sessions were finalised as instance_lost.`;
    case 'timeout':
      return `No acknowledgement from ${r.instance} within the timeout (${r.totalMs} ms); it holds its lease, so it may be overloaded. Check \`warden terminals\` and retry.`;
  }
}
