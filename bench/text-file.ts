/**
 * The text the recorded-text rows carry: a file on the target (same machine, readable by the
 * target account) that looks like a build log — ASCII words and numbers, about one line in
 * eight with ANSI colour codes, a little UTF-8 — so the recorder escapes what terminals
 * really carry (every ESC becomes "\u001b" in asciicast JSON), not NUL bytes, which it skips.
 *
 * Deterministic (a fixed-seed generator) so every run and every path sends the same bytes.
 * One 1 MiB block is generated and repeated; the file is an exact number of MiB and ends
 * with a newline.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir, removeTempDir } from '../test/helpers/processes.js';

export interface TextFile {
  path: string;
  bytes: number;
  /** Newlines in the file: a terminal (onlcr) turns each into CR LF, one byte more. */
  lines: number;
  /** Newlines in the first `bytes` (a whole number of MiB). */
  linesIn(bytes: number): number;
  remove(): void;
}

const WORDS = [
  'compiling', 'linking', 'module', 'src', 'warning', 'ok', 'test', 'passed', 'cache', 'hit',
  'miss', 'fetch', 'resolve', 'bundle', 'chunk', 'emit', 'done', 'index.ts', 'server', 'client',
  'request', 'GET', 'POST', '/api/v1/users', 'status', 'latency', 'bytes', 'worker', 'queue', 'retry',
];
const UTF8 = ['→', 'µs', '✓', 'ü', '—'];

/** A 1 MiB block of log-like lines (mulberry32, fixed seed). */
export function textBlock(size = 1048576): Buffer {
  let seed = 0x5eed1234;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const parts: Buffer[] = [];
  let used = 0;
  for (let n = 0; ; n++) {
    const words = Array.from({ length: 4 + Math.floor(rand() * 10) }, () => pick(WORDS));
    if (n % 8 === 3) words.splice(1, 0, '\x1b[32mok\x1b[0m');
    if (n % 13 === 5) words.push(pick(UTF8));
    let line = `[${(n * 0.137).toFixed(3).padStart(10)}] ${words.join(' ')} ${Math.floor(rand() * 100000)}\n`;
    const room = size - used;
    if (Buffer.byteLength(line) + 80 > room) {
      // Last line: pad with ASCII so the block is exactly `size` bytes and ends with "\n".
      line = `${'x'.repeat(room - 1)}\n`;
    }
    const b = Buffer.from(line, 'utf8');
    parts.push(b);
    used += b.length;
    if (used === size) return Buffer.concat(parts);
  }
}

export function makeTextFile(bytes: number): TextFile {
  const mib = 1048576;
  if (bytes % mib !== 0) throw new Error(`text file size must be whole MiB, got ${bytes}`);
  // 0755: the target account (warden-target when run as root) must be able to read it.
  const dir = makeTempDir('bench-text', 0o755);
  const file = path.join(dir, 'build.log');
  const block = textBlock(mib);
  const fd = openSync(file, 'w', 0o644);
  try {
    for (let i = 0; i < bytes / mib; i++) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
  let perBlock = 0;
  for (const b of block) if (b === 0x0a) perBlock++;
  const linesIn = (n: number): number => {
    if (n % mib !== 0 || n > bytes) throw new Error(`${n} bytes: not a whole number of MiB within the file`);
    return perBlock * (n / mib);
  };
  return { path: file, bytes, lines: linesIn(bytes), linesIn, remove: () => removeTempDir(dir) };
}
