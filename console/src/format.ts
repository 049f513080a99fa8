/** Text for the page: user-controlled strings, times, durations. */

/**
 * Control characters shown as visible escapes (`\x1b`), as the server's `printable` does for
 * its logs: an ANSI sequence in a name or command reads as what it is, never as nothing.
 * (Markup needs no escaping here: everything is rendered as text nodes.)
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function visible(value: unknown, max = 500): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  const escaped = s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** 2026-12-02 03:14:07 (local time). */
export function clock(ms: number | undefined): string {
  if (!ms) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 4 s, 3 min 2 s, 2 h 5 min. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** "12 s ago", relative to `now`. */
export function ago(ms: number | undefined, now: number): string {
  return ms ? `${duration(now - ms)} ago` : '';
}

/** Seconds into a recording as m:ss.t */
export function offset(seconds: number): string {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}`;
}

/** "admin_kill by carol", "idle_timeout (5m)". */
export function endReason(s: { reason?: string; by?: string; detail?: string }): string {
  if (!s.reason) return '';
  const by = s.by ? ` by ${visible(s.by, 64)}` : '';
  return `${s.reason}${by}`;
}
