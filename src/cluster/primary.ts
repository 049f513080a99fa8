/**
 * The parent of `warden start --workers N`. It holds no sessions: it starts the embedded
 * redis-server (once, for all workers), makes the host key (so workers never race to create
 * different ones), forks the workers, restarts one that dies (with backoff against crash
 * loops), and on SIGINT/SIGTERM stops them all and exits when the last is gone.
 *
 * The SSH port is shared through node:cluster: the parent accepts and hands each connection
 * to the next worker (round-robin). Node 20's `net` has no SO_REUSEPORT option.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.js';
import { loadOrCreateHostKey } from '../front-door.js';
import { defaultInstanceId } from '../ids.js';
import type { Logger } from '../logger.js';
import { makePrivateDir } from '../private-files.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../redis.js';
import { RestartBackoff, slotEnv, workerInstanceId, type WorkerSlot } from './worker-plan.js';

interface SlotState {
  slot: WorkerSlot;
  id: string;
  worker?: Worker;
  startedAt: number;
  listening: boolean;
  backoff: RestartBackoff;
  restart?: NodeJS.Timeout;
}

/** Extra time past the workers' own bounded stop before the parent SIGKILLs a worker. */
const KILL_MARGIN_MS = 5_000;

export async function runPrimary(cfg: Config, count: number, log: Logger): Promise<number> {
  const plog = log.child({ role: 'parent' });
  makePrivateDir(cfg.dataDir);
  loadOrCreateHostKey(cfg.hostKeyFile, plog);
  const embedded: EmbeddedRedis | undefined = cfg.redis ? undefined : await startEmbeddedRedis(cfg, plog);
  const base = cfg.instanceId ?? defaultInstanceId();
  cluster.schedulingPolicy = cluster.SCHED_RR;

  let stopping = false;
  let failed = false;
  let upOnce = false;
  let finish = (_code: number) => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  const slots: SlotState[] = Array.from({ length: count }, (_, i) => {
    const slot = { index: i + 1, count, base };
    return { slot, id: workerInstanceId(slot), startedAt: 0, listening: false, backoff: new RestartBackoff() };
  });

  const allExited = () => slots.every((s) => !s.worker);
  const fork = (s: SlotState) => {
    s.restart = undefined;
    s.listening = false;
    s.startedAt = Date.now();
    const worker = cluster.fork(slotEnv(s.slot));
    s.worker = worker;
    plog.info({ worker: s.id, pid: worker.process.pid }, 'worker started');
    worker.once('listening', () => {
      s.listening = true;
      if (!upOnce && slots.every((x) => x.listening)) plog.info({ workers: count, instance: base }, 'all workers listening');
      upOnce ||= slots.every((x) => x.listening);
    });
    worker.once('exit', (code, signal) => {
      s.worker = undefined;
      const lived = Date.now() - s.startedAt;
      const how = { worker: s.id, pid: worker.process.pid, code, signal, livedMs: lived };
      if (stopping) {
        if (code !== 0) failed = true;
        plog.info(how, 'worker stopped');
        if (allExited()) finish(failed ? 1 : 0);
        return;
      }
      if (!upOnce && !s.listening) {
        // Never came up on the first start (a bad port, Redis unreachable): the worker has
        // said why on stderr; looping would only hide it.
        plog.error(how, 'worker failed to start: stopping');
        failed = true;
        stop('worker failed to start');
        return;
      }
      const delay = s.backoff.next(lived);
      plog.warn({ ...how, restartInMs: delay }, 'worker died: restarting it (its sessions are finalised as instance_lost)');
      s.restart = setTimeout(() => fork(s), delay);
    });
  };

  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    plog.info({ signal: why, workers: slots.filter((s) => s.worker).length }, 'shutting down: stopping the workers');
    for (const s of slots) {
      clearTimeout(s.restart);
      s.worker?.process.kill('SIGTERM');
    }
    if (allExited()) finish(failed ? 1 : 0);
    setTimeout(() => {
      for (const s of slots) {
        if (!s.worker) continue;
        plog.error({ worker: s.id, pid: s.worker.process.pid }, 'worker did not stop in time: killing it');
        failed = true;
        s.worker.process.kill('SIGKILL');
      }
    }, cfg.shutdownTimeout + KILL_MARGIN_MS).unref();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  for (const s of slots) fork(s);
  const code = await done;
  // Last, after every worker wrote its final records into it.
  await embedded?.stop(1_500);
  plog.info({ code }, 'all workers stopped');
  log.flush?.();
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
