/**
 * `warden start --workers N`: the pure parts. How many workers, what each worker's own
 * instance id and files are called, and how long the parent waits before restarting a worker
 * that died. Processes and signals live in primary.ts and worker.ts.
 */
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { WardenError } from '../errors.js';

export const MAX_WORKERS = 64;

/** The worker count: the flag wins over the config's `workers:`, the default is the core count. */
export function workerCount(flag: string | undefined, configured: number | undefined, cores = availableParallelism()): number {
  if (flag === undefined) return configured ?? Math.min(Math.max(cores, 1), MAX_WORKERS);
  const n = /^\d{1,3}$/.test(flag) ? Number(flag) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) throw new WardenError('USAGE', `--workers "${flag}": give a whole number from 1 to ${MAX_WORKERS} (1: one process, no parent)`);
  return n;
}

/** What one worker is, passed from the parent in its environment. */
export interface WorkerSlot {
  /** 1..count */
  index: number;
  count: number;
  /** The instance id the workers share as a prefix: `<base>-w<index>` is the worker's. */
  base: string;
}

const ENV = { index: 'WARDEN_WORKER', count: 'WARDEN_WORKERS', base: 'WARDEN_WORKER_BASE' } as const;

export function slotEnv(slot: WorkerSlot): Record<string, string> {
  return { [ENV.index]: String(slot.index), [ENV.count]: String(slot.count), [ENV.base]: slot.base };
}

export function slotFromEnv(env: NodeJS.ProcessEnv): WorkerSlot {
  const index = Number(env[ENV.index]);
  const count = Number(env[ENV.count]);
  const base = env[ENV.base] ?? '';
  if (!(index >= 1 && index <= count && count <= MAX_WORKERS) || !/^[A-Za-z0-9_.-]+$/.test(base)) {
    throw new WardenError('USAGE', `not started as a worker by \`warden start\` (${ENV.index}=${env[ENV.index]}, ${ENV.count}=${env[ENV.count]})`);
  }
  return { index, count, base };
}

export function workerInstanceId(slot: WorkerSlot): string {
  return `${slot.base}-w${slot.index}`;
}

/**
 * A file only this worker writes: `audit.jsonl` becomes `audit-w2.jsonl`. The index, not the
 * pid, so a restarted worker finds the journal its predecessor saved.
 */
export function workerFile(file: string, slot: WorkerSlot): string {
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}-w${slot.index}${ext}`);
}

/**
 * Restart delays against crash loops: a worker that lived at least `stableMs` is restarted
 * after `firstMs`; each quicker death doubles the delay, up to `maxMs`.
 */
export class RestartBackoff {
  private failures = 0;

  constructor(private readonly o = { firstMs: 500, maxMs: 30_000, stableMs: 30_000 }) {}

  /** The delay before the next start of a worker that ran for `livedMs`. */
  next(livedMs: number): number {
    this.failures = livedMs >= this.o.stableMs ? 0 : this.failures + 1;
    return Math.min(this.o.firstMs * 2 ** Math.min(this.failures, 16), this.o.maxMs);
  }
}
