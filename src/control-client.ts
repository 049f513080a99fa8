/**
 * The admin side of session control, used by `warden kill` and the admin API from anywhere
 * that reaches Redis: find the owner of a session in the registry, ask it to kill (the kill
 * channel's PUBLISH, or the owner's BullMQ control queue when the PUBLISH reached nobody), and
 * wait for the owner's acknowledgement. If the owner is dead, finalise its sessions as
 * `instance_lost` instead of waiting for an answer that will never come.
 *
 * BullMQ is imported only when a kill needs the queue: a cold `warden kill` whose PUBLISH
 * reached the owner never loads it.
 */
import type { Queue, QueueEvents } from 'bullmq';
import { duplicateBlocking, type RedisClient } from './redis-connection.js';
import type { ControlJob } from './control-plane.js';
import { InstanceRegistry } from './instance-registry.js';
import { KillAsker, type KillResult } from './kill-channel.js';
import type { RedisKeys } from './redis-keys.js';
import type { Registry } from './registry.js';
import { withTimeout } from './timeout.js';

export type KillReport =
  /** `via`: which path carried the acknowledgement (the kill channel, or the queue it fell back to). */
  | (KillResult & { totalMs: number; via?: 'channel' | 'queue' })
  | { outcome: 'instance_lost'; sessionId: string; instance: string; totalMs: number }
  | { outcome: 'timeout'; sessionId: string; instance: string; totalMs: number };

export interface KillRequest {
  by: string;
  reason?: string;
  timeoutMs: number;
}

/** BullMQ job ids may not contain ':'; a kill's is `kill-<session id>`. */
const killJobId = (sessionId: string) => `kill-${sessionId}`;

interface QueueChannel {
  queue: Queue;
  events: QueueEvents;
  blocking: RedisClient;
}

export class ControlClient {
  private readonly queues = new Map<string, Promise<QueueChannel>>();
  private readonly instances: InstanceRegistry;
  private readonly asker: KillAsker;

  constructor(
    private readonly redis: RedisClient,
    private readonly registry: Registry,
    private readonly keys: RedisKeys,
  ) {
    this.instances = new InstanceRegistry(redis, keys);
    this.asker = new KillAsker(redis, keys, () => duplicateBlocking(redis));
  }

  /** Open the acknowledgement subscription now (a CLI overlaps it with its registry lookup). */
  prepare(): void {
    void this.asker.prepare().catch(() => {});
  }

  /** The owner's queue and its event reader, made once per owner (concurrent kills share it). */
  private channel(instance: string): Promise<QueueChannel> {
    let ch = this.queues.get(instance);
    if (!ch) {
      ch = this.openChannel(instance);
      this.queues.set(instance, ch);
    }
    return ch;
  }

  private async openChannel(instance: string): Promise<QueueChannel> {
    const name = this.keys.controlQueue(instance);
    const opts = { connection: this.redis, prefix: this.keys.bullPrefix };
    const { Queue, QueueEvents } = await import('bullmq');
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
    const events = new QueueEvents(name, { ...opts, connection: blocking, lastEventId: last?.[0] ?? '0-0' });
    await events.waitUntilReady();
    return { queue, events, blocking };
  }

  /** Kill one session by full id (resolve prefixes with Registry.resolve first). */
  async kill(sessionId: string, req: KillRequest): Promise<KillReport> {
    // hrtime, not performance.now(): the first use of `performance` loads perf_hooks (~2 ms of
    // a cold `warden kill`).
    const started = process.hrtime.bigint();
    const took = () => Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    const rec = await this.registry.get(sessionId);
    if (!rec) return { outcome: 'not_found', sessionId, instance: '', ms: 0, totalMs: took() };
    if (rec.state === 'finished') return { outcome: 'already_finished', sessionId, instance: rec.instance, ms: 0, reason: rec.reason, totalMs: took() };
    if (!(await this.instances.alive(rec.instance))) return this.lost(rec.instance, sessionId, took);

    const order = { sessionId, by: req.by, reason: req.reason };
    const asked = await this.asker.ask(rec.instance, order);
    // Nobody took the PUBLISH: queue the job as well; the first acknowledgement wins.
    const onChannel = asked.answer.then((r) => ({ ...r, via: 'channel' as const }));
    const answers = asked.receivers > 0 ? [onChannel] : [onChannel, this.viaQueue(rec.instance, order, req.timeoutMs)];
    const result = await withTimeout(Promise.race(answers), req.timeoutMs);
    asked.forget();
    if (result) return { ...result, totalMs: took() };
    // No answer: the owner may have died after the lease check.
    if (!(await this.instances.alive(rec.instance))) return this.lost(rec.instance, sessionId, took);
    return { outcome: 'timeout', sessionId, instance: rec.instance, totalMs: took() };
  }

  /** The owner's BullMQ control queue; resolves with its acknowledgement or never. */
  private async viaQueue(instance: string, order: Omit<Extract<ControlJob, { kind: 'kill' }>, 'kind'>, timeoutMs: number): Promise<KillResult & { via: 'queue' }> {
    try {
      const { queue, events } = await this.channel(instance);
      // The job id makes a duplicate kill (two admins, a retry) join the first one.
      const job = await queue.add('kill', { kind: 'kill', ...order } satisfies ControlJob, { jobId: killJobId(order.sessionId), removeOnComplete: { age: 60 }, removeOnFail: { age: 3600 } });
      return { ...((await job.waitUntilFinished(events, timeoutMs)) as KillResult), via: 'queue' };
    } catch {
      return new Promise<never>(() => {});
    }
  }

  private async lost(instance: string, sessionId: string, took: () => number): Promise<KillReport> {
    await this.registry.reapInstance(instance);
    return { outcome: 'instance_lost', sessionId, instance, totalMs: took() };
  }

  async close(): Promise<void> {
    this.asker.close();
    for (const ch of this.queues.values()) {
      const opened = await ch.catch(() => undefined);
      if (!opened) continue;
      const { queue, events, blocking } = opened;
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
