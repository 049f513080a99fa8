/** Plain-text tables for the CLIs; every cell is escaped, since most of them came from users. */
import { printable } from './text.js';

export function table(headers: string[], rows: Array<Array<string | number | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => printable(c === undefined ? '-' : String(c), 80)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

export function isoTime(ms: number | undefined): string | undefined {
  return ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : undefined;
}

export function age(ms: number | undefined, now = Date.now()): string | undefined {
  if (!ms) return undefined;
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}
