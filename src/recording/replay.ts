/**
 * Plays an asciicast v2 recording (.cast or .cast.gz) to a terminal, honouring its timings.
 * Output events are written as they are; input, resize and marker events are skipped, as
 * `asciinema play` does. Lines that do not parse (the torn last line of a recording cut short)
 * are skipped rather than failing the whole replay.
 */
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

export interface ReplayOptions {
  /** Playback speed factor, default 1 (2 = twice as fast). */
  speed?: number;
  out: NodeJS.WritableStream;
  /** Cap every pause at this many (recorded) seconds; default: the header's idle_time_limit. */
  maxIdleSeconds?: number;
  /** Injectable for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ReplaySummary {
  /** Output events written. */
  events: number;
  /** Total time slept, in ms. */
  playedMs: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function replay(file: string, opts: ReplayOptions): Promise<ReplaySummary> {
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new Error(`replay speed must be > 0, got ${speed}`);
  const sleep = opts.sleep ?? defaultSleep;
  const input: Readable = file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let header: Record<string, unknown> | undefined;
  let maxIdle = opts.maxIdleSeconds;
  let prev = 0;
  // Sub-millisecond gaps add up here and are slept once they amount to a timer tick.
  let owedMs = 0;
  const summary: ReplaySummary = { events: 0, playedMs: 0 };
  try {
    for await (const line of lines) {
      if (header === undefined) {
        header = parseHeader(line, file);
        if (maxIdle === undefined && typeof header.idle_time_limit === 'number') maxIdle = header.idle_time_limit;
        continue;
      }
      const event = parseEvent(line);
      if (!event || event[1] !== 'o') continue;
      const [t, , data] = event;
      const gap = Math.max(0, t - prev);
      prev = t;
      owedMs += ((maxIdle === undefined ? gap : Math.min(gap, maxIdle)) * 1000) / speed;
      if (owedMs >= 1) {
        await sleep(owedMs);
        summary.playedMs += owedMs;
        owedMs = 0;
      }
      if (!opts.out.write(data)) await once(opts.out, 'drain');
      summary.events++;
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (header === undefined) throw new Error(`${file}: empty recording`);
  return summary;
}

function parseHeader(line: string, file: string): Record<string, unknown> {
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    throw new Error(`${file}: first line is not an asciicast header`);
  }
  if (typeof h !== 'object' || h === null || (h as { version?: unknown }).version !== 2) {
    throw new Error(`${file}: not an asciicast v2 recording`);
  }
  return h as Record<string, unknown>;
}

function parseEvent(line: string): [number, string, string] | null {
  try {
    const e: unknown = JSON.parse(line);
    if (Array.isArray(e) && typeof e[0] === 'number' && typeof e[1] === 'string' && typeof e[2] === 'string') {
      return [e[0], e[1], e[2]];
    }
  } catch {
    // torn or foreign line: skip
  }
  return null;
}
