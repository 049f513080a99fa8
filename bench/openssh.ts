/** Spawning the real OpenSSH client for streaming measurements (the harness' runSsh buffers). */
import { spawn, type ChildProcess } from 'node:child_process';
import { trackChild } from '../test/helpers/processes.js';
import type { SshInvocation } from './setup.js';

export function spawnSsh(inv: SshInvocation, stdin: 'ignore' | 'pipe'): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...inv.env };
  delete env.SSH_AUTH_SOCK;
  const child = spawn(inv.argv[0]!, inv.argv.slice(1), { stdio: [stdin, 'pipe', 'pipe'], env });
  trackChild(child);
  child.stdin?.on('error', () => undefined);
  return child;
}

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Resolves when the child has exited and its pipes closed; kills it after `timeoutMs` or on abort. */
export function exited(child: ChildProcess, timeoutMs: number, signal: AbortSignal): Promise<Exited> {
  const err: Buffer[] = [];
  child.stderr?.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve, reject) => {
    const kill = () => child.kill('SIGKILL');
    const timer = setTimeout(kill, timeoutMs);
    signal.addEventListener('abort', kill, { once: true });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      resolve({ code, signal: sig, stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
