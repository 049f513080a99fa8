/**
 * This instance's control queue (BullMQ `ctl-<instance>`): admin kills and the delayed idle
 * and max-duration checks of the sessions it owns. Kills also arrive on the instance's kill
 * channel (kill-channel.ts: pub/sub, the fast path of `warden kill`) and run the same code. The worker turns each job into an event
 * for the session actor and returns what happened, so an admin gets an acknowledgement.
 *
 * Handlers are idempotent: BullMQ may run a stalled job twice, and a kill of a session that
 * is already gone reports so instead of failing.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { duplicateBlocking, type RedisClient } from './redis-connection.js';
import { KillListener, type KillOrder, type KillResult } from './kill-channel.js';
import type { Counters } from './counters.js';
import type { FleetEventSink } from './fleet-events.js';
import type { Logger } from './logger.js';
import type { RedisKeys } from './redis-keys.js';
import type { Registry } from './registry.js';
import type { SupervisorHandle } from './supervisor.js';

export type ControlJob =
  | ({ kind: 'kill' } & KillOrder)
  | { kind: 'idle'; sessionId: string }
  | { kind: 'duration'; sessionId: string };

const JOB_RETENTION = { age: 3600, count: 1000 };

export class ControlPlane {
  readonly queue: Queue;
  private readonly worker: Worker;
  private readonly killChannel: KillListener;
  private seq = 0;
  /** The latest scheduled check of each kind per live session (its add may still be in flight). */
  private readonly pending = new Map<string, { idle?: Promise<string | undefined>; duration?: Promise<string | undefined> }>();

  constructor(
    private readonly opts: {
      instanceId: string;
      keys: RedisKeys;
      connection: RedisClient;
      workerConnection: RedisClient;
      supervisor: SupervisorHandle;
      registry: Registry;
      counters: Counters;
      log: Logger;
      events?: FleetEventSink;
    },
  ) {
    const name = opts.keys.controlQueue(opts.instanceId);
    this.queue = new Queue(name, { connection: opts.connection, prefix: opts.keys.bullPrefix });
    this.queue.on('error', (err: Error) => opts.log.warn({ err }, 'control queue error'));
    this.worker = new Worker(name, (job: Job<ControlJob>) => this.handle(job.data), {
      connection: opts.workerConnection,
      prefix: opts.keys.bullPrefix,
      concurrency: 64,
      autorun: true,
    });
    this.worker.on('error', (err: Error) => opts.log.warn({ err }, 'control worker error'));
    this.worker.on('failed', (job, err) => opts.log.warn({ job: job?.id, err }, 'control job failed'));
    const subscriber = duplicateBlocking(opts.connection);
    subscriber.on('error', (err: Error) => opts.log.debug({ err }, 'redis error (kill channel)'));
    this.killChannel = new KillListener({
      instanceId: opts.instanceId, keys: opts.keys, subscriber, publisher: opts.connection,
      kill: (order) => this.kill(order), warn: (fields, msg) => opts.log.warn(fields, msg),
    });
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.worker.waitUntilReady(), this.killChannel.start()]);
  }

  /** Schedule a check of one of our sessions at `at` (ms since epoch). */
  schedule(kind: 'idle' | 'duration', sessionId: string, at: number): void {
    const delay = Math.max(0, at - Date.now());
    const jobId = `${kind}-${sessionId}-${++this.seq}`;
    const added = this.queue
      .add(kind, { kind, sessionId }, { delay, jobId, removeOnComplete: true, removeOnFail: JOB_RETENTION })
      .then(
        () => jobId,
        (err: Error) => {
          this.opts.log.warn({ session: sessionId, err }, `cannot schedule ${kind} check`);
          return undefined;
        },
      );
    const pending = this.pending.get(sessionId) ?? {};
    pending[kind] = added;
    this.pending.set(sessionId, pending);
  }

  /**
   * Remove an ended session's pending checks. Each check schedules the next, so a session has
   * at most one pending job per kind; without this a 30-minute idle check outlived every short
   * session in the queue. A job already running is left alone: it finds no session and stops.
   */
  cancel(sessionId: string): void {
    const pending = this.pending.get(sessionId);
    if (!pending) return;
    this.pending.delete(sessionId);
    for (const added of [pending.idle, pending.duration]) {
      void added?.then((jobId) => (jobId ? this.queue.remove(jobId) : 0)).catch((err: Error) => this.opts.log.debug({ session: sessionId, err }, 'cannot remove a pending check'));
    }
  }

  private async handle(job: ControlJob): Promise<KillResult | void> {
    if (job.kind === 'kill') return this.kill(job);
    this.opts.supervisor.check(job.kind, job.sessionId);
  }

  /** Consoles see every kill's acknowledgement, whoever asked (API or CLI). */
  private async kill(job: KillOrder): Promise<KillResult> {
    const r = await this.killSession(job);
    this.opts.events?.publish({ type: 'kill_acknowledged', session: r.sessionId, instance: r.instance, outcome: r.outcome, by: job.by, ms: r.ms });
    return r;
  }

  private async killSession(job: KillOrder): Promise<KillResult> {
    const started = performance.now();
    const { supervisor, registry, instanceId, counters, log } = this.opts;
    const result = (outcome: KillResult['outcome'], reason?: string): KillResult => ({
      outcome, sessionId: job.sessionId, instance: instanceId, ms: Math.round((performance.now() - started) * 100) / 100, reason,
    });
    const answer = await supervisor.kill(job.sessionId, { reason: 'admin_kill', by: job.by, detail: job.reason });
    if (answer.outcome === 'killed') {
      counters.add('kills');
      log.info({ session: job.sessionId, by: job.by }, 'session killed by admin');
      return result('killed');
    }
    const rec = await registry.get(job.sessionId);
    if (rec?.state === 'finished') return result('already_finished', rec.reason);
    if (rec && rec.instance === instanceId) {
      // Live in Redis but not in this process: a ghost. Make the registry true again.
      await registry.finish({ ...rec, reason: 'error', detail: 'not running on its instance (found by kill)' });
      return result('already_finished', 'error');
    }
    return result('not_found');
  }

  async close(): Promise<void> {
    this.killChannel.stop();
    await this.worker.close().catch(() => {});
    await this.queue.close().catch(() => {});
  }
}
