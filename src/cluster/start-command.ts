/**
 * `warden start`: one process (`--workers 1`), or a parent and N workers (default: one per
 * core). A worker runs this same command again; node:cluster tells it apart.
 */
import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import { runInstance } from './run-instance.js';
import { workerCount } from './worker-plan.js';

export async function startCommand(cfg: Config, flags: { pretty?: boolean; workers?: string }): Promise<number> {
  const log = createLogger({ pretty: flags.pretty === true });
  if (cluster.isWorker) {
    try {
      return await (await import('./worker.js')).runWorker(cfg, log);
    } finally {
      // The channel to the parent keeps a worker alive: leave once a failed start is reported.
      setTimeout(() => process.exit(process.exitCode ?? 1), 500).unref();
    }
  }
  const count = workerCount(flags.workers, cfg.workers);
  if (count === 1) return runInstance(cfg, log);
  return (await import('./primary.js')).runPrimary(cfg, count, log);
}
