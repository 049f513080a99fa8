/**
 * A long-running exec session through Warden with the real ssh client (no pty, so Warden's
 * messages arrive on stderr), for tests that kill, time out or reap it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Registry, SessionRecord } from '../../src/registry.js';
import { trackChild, waitUntil } from './processes.js';
import { BASE_OPTIONS } from './ssh-client.js';

export interface LiveSession {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** `ssh LOGIN "echo MARKER; exec sleep 120"` with alice's key; MARKER on stdout means it is up. */
export function openSession(w: { port: number; aliceKey: string }, marker: string, login = 'alice@target@web1'): LiveSession {
  const child = spawn('ssh', [...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-p', String(w.port), '-l', login, '127.0.0.1', `echo ${marker}; exec sleep 120`]);
  trackChild(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** The live record of a session opened with openSession, once it is up. */
export async function liveRecord(registry: Registry, marker: string, live: LiveSession): Promise<SessionRecord> {
  await waitUntil(`session ${marker} up`, async () => live.out().includes(marker), { timeoutMs: 30_000, details: () => live.err() });
  let rec: SessionRecord | undefined;
  await waitUntil(`record of ${marker}`, async () => {
    rec = (await registry.listLive()).find((r) => r.command?.includes(marker));
    return rec !== undefined;
  });
  return rec!;
}
