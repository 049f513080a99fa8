/**
 * One worker of `warden start --workers N`: a full instance of the fleet with its own id
 * (`<base>-w<k>`), lease, control queue, heartbeat and files, sharing the SSH port through
 * the parent (node:cluster hands each accepted connection to one worker in turn).
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Instance } from '../instance.js';
import { journalFile } from '../journal.js';
import type { Logger } from '../logger.js';
import { runInstance } from './run-instance.js';
import { slotFromEnv, workerFile, workerInstanceId } from './worker-plan.js';

export async function runWorker(cfg: Config, log: Logger): Promise<number> {
  const slot = slotFromEnv(process.env);
  const own: Config = {
    ...cfg,
    // Configured: a restarted worker finalises what its previous process left (as instance_lost)
    // at once, instead of waiting for the lease it now renews itself.
    instanceId: workerInstanceId(slot),
    auditFile: workerFile(cfg.auditFile ?? join(cfg.dataDir, 'audit.jsonl'), slot),
    // One admin API per group, on worker 1: browser sessions and login limits live in its
    // memory, so a shared port that sent each request to another worker would log users out.
    // It answers for the whole fleet (registry, kills through the owner's control queue).
    admin: slot.index === 1 ? cfg.admin : undefined,
  };
  return runInstance(own, log, {
    role: { journalFile: workerFile(journalFile(cfg.dataDir), slot), embeddedRedis: 'parent' },
    stopOnDisconnect: true,
    started: async (instance) => {
      await instance.instances.advertise(instance.id, { worker: `${slot.index}/${slot.count}` });
      return cfg.admin && slot.index > 1 ? shareAdminUrl(instance, workerInstanceId({ ...slot, index: 1 }), cfg.instance.heartbeatInterval, log) : () => {};
    },
  });
}

/**
 * Advertise worker 1's admin URL as this worker's own: the fleet fetches a session's recording
 * from its owner's admin API, and worker 1 serves every worker's recordings (one dataDir).
 * Followed at every heartbeat: worker 1's URL changes when it restarts on port 0.
 */
function shareAdminUrl(instance: Instance, first: string, everyMs: number, log: Logger): () => void {
  let shared = '';
  const follow = async () => {
    const url = (await instance.instances.get(first))?.adminUrl ?? '';
    if (url !== shared) await instance.instances.advertise(instance.id, { adminUrl: (shared = url) });
  };
  const timer = setInterval(() => void follow().catch((err: Error) => log.debug({ err }, 'could not read worker 1\'s admin URL')), everyMs);
  timer.unref();
  void follow().catch(() => {});
  // Stopped before the instance forgets its record: a late write must not bring it back.
  return () => clearInterval(timer);
}
