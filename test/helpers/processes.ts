/**
 * Shared plumbing for the real-process test helpers: temp dirs, free ports, waiting for a
 * port, and making sure nothing a test started outlives the test process.
 *
 * Two layers of cleanup, because a test worker can die in ways that skip `exit` handlers
 * (SIGTERM/SIGKILL from the runner, a crash in native code):
 *  1. `process.on('exit')` kills tracked pids, kills tracked tmux servers and removes tracked
 *     dirs synchronously.
 *  2. A tiny reaper process, started on first use, holds a pipe from this process. When the
 *     pipe closes, however this process ended, the reaper does the same cleanup. It is told
 *     about every tracked resource as it is added and removed.
 *
 * Set WARDEN_TEST_KEEP_TMP=1 to keep temp dirs for post-mortems.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

type ResourceKind = 'pid' | 'dir' | 'tmux';
interface Message {
  op: 'add' | 'del';
  kind: ResourceKind;
  value: string;
}

const tracked: Record<ResourceKind, Set<string>> = { pid: new Set(), dir: new Set(), tmux: new Set() };
const keepTmp = process.env.WARDEN_TEST_KEEP_TMP === '1';

// Runs in the reaper (plain Node, no imports from this project). Kills pids, tmux servers
// and removes dirs once its stdin closes, i.e. once the test process is gone.
const REAPER_SOURCE = `
const { rmSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const keep = process.env.WARDEN_TEST_KEEP_TMP === '1';
const sets = { pid: new Set(), dir: new Set(), tmux: new Set() };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    try { const m = JSON.parse(line); if (m.op === 'add') sets[m.kind].add(m.value); else sets[m.kind].delete(m.value); } catch {}
  }
});
process.stdin.on('close', () => {
  for (const p of sets.pid) { try { process.kill(Number(p), 'SIGKILL'); } catch {} }
  for (const t of sets.tmux) {
    try { spawnSync('tmux', ['-L', t, 'kill-server'], { stdio: 'ignore', timeout: 5000 }); } catch {}
    try { rmSync(require('node:path').join(process.env.TMUX_TMPDIR || '/tmp', 'tmux-' + process.getuid(), t), { force: true }); } catch {}
  }
  if (!keep) for (const d of sets.dir) { try { rmSync(d, { recursive: true, force: true }); } catch {} }
  process.exit(0);
});
`;

let reaper: ChildProcess | undefined;

function tellReaper(message: Message): void {
  if (!reaper) {
    reaper = spawn(process.execPath, ['-e', REAPER_SOURCE], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Own process group: a Ctrl-C aimed at the test run must not kill the reaper before it
      // has cleaned up.
      detached: true,
    });
    reaper.on('error', () => undefined);
    reaper.stdin?.on('error', () => undefined);
    // Neither the reaper nor its pipe may keep the test process alive.
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  reaper.stdin?.write(`${JSON.stringify(message)}\n`);
}

function track(kind: ResourceKind, value: string): void {
  tracked[kind].add(value);
  tellReaper({ op: 'add', kind, value });
}

function untrack(kind: ResourceKind, value: string): void {
  if (!tracked[kind].delete(value)) return;
  tellReaper({ op: 'del', kind, value });
}

function cleanupSync(): void {
  for (const pid of tracked.pid) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const name of tracked.tmux) killTmuxServerSync(name);
  if (!keepTmp) {
    for (const dir of tracked.dir) rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', cleanupSync);

/** Kill this child with SIGKILL if the test process exits before the helper stops it. */
export function trackChild(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  track('pid', String(pid));
  child.once('exit', () => untrack('pid', String(pid)));
}

/** Where `tmux -L name` puts its socket. */
export function tmuxSocketPath(socketName: string): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, socketName);
}

/** `tmux -L name kill-server` and remove the socket file (tmux leaves it after a crash). */
export function killTmuxServerSync(socketName: string): void {
  spawnSync('tmux', ['-L', socketName, 'kill-server'], { stdio: 'ignore', timeout: 5000 });
  rmSync(tmuxSocketPath(socketName), { force: true });
}

/** Kill this tmux server and remove its socket if the test process exits first. */
export function trackTmuxServer(socketName: string): void {
  track('tmux', socketName);
}

export function untrackTmuxServer(socketName: string): void {
  untrack('tmux', socketName);
}

/**
 * A fresh directory under the OS temp dir, removed when the test process exits (unless
 * WARDEN_TEST_KEEP_TMP=1). `mode` lets sshd's target user traverse a root-owned dir.
 */
export function makeTempDir(prefix: string, mode?: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `warden-${prefix}-`));
  if (mode !== undefined) chmodSync(dir, mode);
  track('dir', dir);
  return dir;
}

/** Remove a dir made by makeTempDir now. */
export function removeTempDir(dir: string): void {
  untrack('dir', dir);
  if (!keepTmp) rmSync(dir, { recursive: true, force: true });
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    return Number.isFinite(n) && n > 0 ? n : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A TCP port that is free on 127.0.0.1 right now.
 *
 * Picked at random BELOW the kernel's ephemeral range rather than with `listen(0)`: a port
 * from the ephemeral range can be taken by any outgoing connection while a server is down,
 * and `restart()` of Redis must get its own port back.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  const low = 20_000;
  if (high - low >= 1000) {
    for (let i = 0; i < 50; i++) {
      const port = low + Math.floor(Math.random() * (high - low));
      if (await canListen(port, '127.0.0.1')) return port;
    }
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True once a TCP connection to host:port succeeds. */
export function tryConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Poll `probe` until it returns true. Fails early with `failure()`'s message when it returns
 * a string (e.g. "the process exited"), or after `timeoutMs`.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; failure?: () => string | undefined; details?: () => string } = {},
): Promise<void> {
  // Generous by default: the machine may be loaded; a deadline only bounds "never".
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const failed = opts.failure?.();
    if (failed !== undefined) throw new Error(`${what}: ${failed}${opts.details ? `\n${opts.details()}` : ''}`);
    if (await probe()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what}: timed out after ${opts.timeoutMs ?? 30_000} ms${opts.details ? `\n${opts.details()}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 25);
  }
}

/** Wait for a child to exit; SIGKILL it after `graceMs` if it has not. */
export function waitForExit(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The last `lines` lines of a text, for failure messages. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** Read a file, or '' if it does not exist (yet). */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Pids of every live descendant of `pid` (Linux /proc scan). Used to find sshd's
 * per-connection children, which survive their listener.
 */
export function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    const stat = readText(`/proc/${e}/stat`);
    // "pid (comm) state ppid ...": comm may contain spaces and ')', so split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}
