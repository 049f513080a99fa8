/**
 * The contract between the runner and the measurement modules. A module measures one thing
 * on the three paths that `setup.ts` builds and returns table rows; the runner prints them.
 * To add a measurement (kill latency, idle lateness, recording on/off...), write a module
 * that exports a `Measurement` and list it in `MEASUREMENTS` in run.ts.
 */
import type { BenchEnv } from './setup.js';

export type PathName = 'direct' | 'warden' | 'proxyjump';

export interface Row {
  metric: string;
  /** What Warden's recorder does with the row's bytes ("yes", "no (why)"); undefined: n/a. */
  recorded?: string;
  direct?: string;
  warden?: string;
  proxyjump?: string;
  /** Free text, e.g. "w/d 1.12x · pj/d 1.30x". */
  ratio?: string;
  target?: string;
  /** undefined: no target, nothing to judge. */
  ok?: boolean;
}

export interface Result {
  rows: Row[];
  /** Extra lines for the report (raw samples, negotiated ciphers, CPU use...). */
  notes?: string[];
}

export interface BenchContext {
  env: BenchEnv;
  /** --quick: smaller sizes and counts, for a smoke run. */
  quick: boolean;
  /** Timed repetitions per path where a measurement repeats whole runs (>= 5 in full runs). */
  reps: number;
  /** Aborted on Ctrl-C; long loops check it. */
  signal: AbortSignal;
  /** Progress line on stderr. */
  progress(message: string): void;
  /**
   * Call before each timed run: waits until our own processes are idle (Warden finishes a
   * recording after the session) and, with --wait-quiet, until other load goes away.
   */
  settle(): Promise<void>;
}

export interface Measurement {
  /** The name used with --only. */
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<Result>;
}

export function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('interrupted');
}
