/** Small statistics and number formatting for the report. */

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Percentile by linear interpolation between closest ranks (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = sorted(values);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function ratio(a: number, b: number): number {
  return b === 0 ? NaN : a / b;
}

export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a');
export const fmtSeconds = (s: number): string => `${s.toFixed(2)} s`;
export const fmtMs = (ms: number, digits = 1): string => `${ms.toFixed(digits)} ms`;
export const fmtMiBps = (bytes: number, seconds: number): string => `${(bytes / 1048576 / seconds).toFixed(0)} MiB/s`;

/** "1.21, 1.25, 1.30": raw samples for the notes. */
export function list(values: readonly number[], digits = 2): string {
  return values.map((v) => v.toFixed(digits)).join(', ');
}

/** The path order for repetition `i`: rotated so no path always runs first (or last). */
export function rotation<T>(items: readonly T[], i: number): T[] {
  const k = i % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** A p99 from fewer samples than this is two or three samples deep: report the max instead. */
export const MIN_N_FOR_P99 = 200;

/** p99 when there are enough samples for one, else the max. */
export function tailValue(values: readonly number[]): number {
  return values.length >= MIN_N_FOR_P99 ? percentile(values, 99) : Math.max(...values);
}

export function tailLabel(values: readonly number[]): string {
  return values.length >= MIN_N_FOR_P99 ? 'p50 / p99' : 'p50 / max';
}

/** "28.6 ms / 84.2 ms": p50 / p99 (or p50 / max, see tailLabel). */
export function fmtTail(values: readonly number[], digits = 1): string {
  return values.length === 0 ? 'n/a' : `${fmtMs(percentile(values, 50), digits)} / ${fmtMs(tailValue(values), digits)}`;
}
