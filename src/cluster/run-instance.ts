/**
 * Run one instance in this process until it is told to stop (SIGINT, SIGTERM, or, for a
 * worker, its parent going away), then stop it within shutdownTimeout and exit.
 */
import type { Config } from '../config.js';
import type { Instance, InstanceRole } from '../instance.js';
import type { Logger } from '../logger.js';

export interface RunOptions {
  role?: InstanceRole;
  /** Called once the instance is up (a worker advertises its slot); returns what to undo before the stop. */
  started?(instance: Instance): Promise<() => void>;
  /** A worker also stops when the IPC channel to its parent closes: no orphans. */
  stopOnDisconnect?: boolean;
}

export async function runInstance(cfg: Config, log: Logger, opts: RunOptions = {}): Promise<number> {
  const { startInstance } = await import('../instance.js');
  // Listen before starting: a signal during start-up must not kill the process outright and
  // leave its lease and records for the reaper.
  let why: string | undefined;
  let wake = () => {};
  const stopRequested = new Promise<void>((resolve) => (wake = resolve));
  const request = (reason: string) => {
    why ??= reason;
    wake();
  };
  process.once('SIGINT', () => request('SIGINT'));
  process.once('SIGTERM', () => request('SIGTERM'));
  if (opts.stopOnDisconnect) {
    // node:cluster's own listener calls process.exit() at once when the parent goes away,
    // leaving this worker's sessions live in the registry until some reaper finds the lease
    // expired. Replaced by the same bounded stop as a signal's: sessions end as `shutdown`.
    process.removeAllListeners('disconnect');
    process.once('disconnect', () => request('parent gone'));
  }
  const instance = await startInstance(cfg, log, undefined, opts.role);
  const undo = await opts.started?.(instance);
  await stopRequested;
  log.info({ signal: why }, 'shutting down: closing sessions');
  undo?.();
  await instance.stop();
  log.flush?.();
  // The stop is bounded (shutdownTimeout) and everything is written or journalled by now:
  // clients that ignore the disconnect, or a hung Redis socket, must not keep Warden alive.
  setTimeout(() => process.exit(0), 200).unref();
  return 0;
}
