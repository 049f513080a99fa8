/**
 * Helper for the experiments (not a measurement by itself): splits a V8 `.cpuprofile` (written
 * by `node --cpu-prof`) into where the time goes. Each sample is charged to ONE bucket, chosen
 * by the innermost frame that is Warden's, ssh2's or a known dependency's: a sample whose stack
 * is Node's stream code called from ssh2's packet parser is "ssh2 protocol", one whose leaf is
 * a native binding called by ssh2's cipher code is "ssh2 crypto". Warden's own buckets win over
 * ssh2's (the recorder writing to a stream is recording, not plumbing).
 *
 *   npx tsx bench/experiments/cpu-profile-split.mts FILE.cpuprofile...
 */
import { readFileSync } from 'node:fs';

interface Frame { functionName: string; url: string }
interface ProfileNode { id: number; callFrame: Frame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Bucket of one frame, or undefined when the frame says nothing (Node internals, anonymous). */
function frameBucket(f: Frame): string | undefined {
  const u = f.url;
  if (f.functionName === '(garbage collector)') return 'GC (pauses of this thread)';
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(program)') return 'program (V8/native, unattributed)';
  if (u.includes('/@xterm/')) return 'command tracker (headless xterm)';
  if (u.includes('/src/commands/')) return 'command tracker (Warden)';
  if (u.includes('/src/recording/')) return 'recording (Warden code)';
  if (u.includes('/src/watch/')) return 'live watch';
  if (u.includes('/ssh2/lib/protocol/crypto')) return 'ssh2 crypto (AES-GCM binding + JS around it)';
  if (u.includes('/ssh2/lib/protocol/')) return 'ssh2 packet parse/build';
  if (u.includes('/ssh2/lib/')) return 'ssh2 channel/connection layer';
  if (u.includes('/pino') || u.includes('/thread-stream/')) return 'logging';
  if (u.includes('/ioredis/') || u.includes('/bullmq/')) return 'redis/bullmq';
  if (u.includes('/xstate/')) return 'xstate';
  if (u.includes('/dist/src/') || u.includes('/dist/machines/')) return 'Warden other (relay hooks, session)';
  return undefined;
}

/** Node's own code: streams, events, net (where the pipes between the two hops live). */
function nodeBucket(f: Frame): string | undefined {
  const u = f.url;
  if (u.startsWith('node:internal/streams') || u === 'node:stream' || u === 'node:events' || u.startsWith('node:internal/event')) return 'Node streams/events (pipe plumbing)';
  if (u === 'node:net' || u.startsWith('node:internal/stream_base') || u.startsWith('node:internal/net')) return 'Node net (socket read/write)';
  if (u.startsWith('node:')) return 'Node other';
  return undefined;
}

export interface Split {
  /** Sampled milliseconds per bucket (idle excluded from `busyMs`). */
  buckets: Map<string, number>;
  busyMs: number;
  wallMs: number;
}

/**
 * `windows`: [from, to] pairs in microseconds of CLOCK_MONOTONIC, the clock of both the profile's
 * timestamps and `process.hrtime` in any process: only samples taken in one of them count.
 */
export function splitProfile(file: string, windows?: Array<[number, number]>): Split {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Bucket per leaf node, memoized: the innermost frame with a bucket of its own, else the
  // innermost Node frame's bucket, else "other".
  const memo = new Map<number, string>();
  const bucketOf = (leaf: number): string => {
    const hit = memo.get(leaf);
    if (hit) return hit;
    let nodeB: string | undefined;
    let b: string | undefined;
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      b = frameBucket(f);
      if (b) break;
      nodeB ??= nodeBucket(f);
    }
    // A native leaf under ssh2's crypto frame is crypto; Node stream code under Warden's
    // recorder is recording; Node code under ssh2's parser is ssh2's packet handling.
    const out = b ?? nodeB ?? 'other';
    memo.set(leaf, out);
    return out;
  };
  const buckets = new Map<string, number>();
  let busy = 0;
  let t = p.startTime;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (windows && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    first = Math.min(first, t);
    last = Math.max(last, t);
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    const b = bucketOf(p.samples[i]!);
    buckets.set(b, (buckets.get(b) ?? 0) + ms);
    if (b !== 'idle') busy += ms;
  }
  const span = windows ? windows.reduce((a, [x, y]) => a + (y - x), 0) : last - first;
  return { buckets, busyMs: busy, wallMs: span > 0 ? span / 1000 : 0 };
}

/** Monotonic microseconds, comparable with profile timestamps. */
export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

export function printSplit(title: string, s: Split, perMiB?: number): void {
  console.log(`${title}: busy ${(s.busyMs / 1000).toFixed(2)} s of ${(s.wallMs / 1000).toFixed(1)} s in the window(s)`);
  const rows = [...s.buckets].filter(([b]) => b !== 'idle').sort((a, b) => b[1] - a[1]);
  for (const [b, ms] of rows) {
    const per = perMiB ? `  ${(ms / perMiB).toFixed(2)} ms/MiB` : '';
    console.log(`  ${((ms / s.busyMs) * 100).toFixed(1).padStart(5)}%  ${(ms / 1000).toFixed(2).padStart(6)} s${per}  ${b}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of process.argv.slice(2)) printSplit(f, splitProfile(f));
}

/** The `n` functions with the most self time in the windows: [ms, "name file:line"]. */
export function topFunctions(file: string, windows: Array<[number, number]>, n: number): Array<[number, string]> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (!windows.some(([a, b]) => t >= a && t <= b)) continue;
    const f = byId.get(p.samples[i]!)!.callFrame as Frame & { lineNumber?: number };
    if (f.functionName === '(idle)') continue;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${(f.lineNumber ?? 0) + 1}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  return [...self].map(([k, ms]) => [ms, k] as [number, string]).sort((a, b) => b[0] - a[0]).slice(0, n);
}
