/**
 * Run the CLI (`node bin/warden.js ARGS`) and list the module files it loaded, to check what a
 * command pulls in (e.g. that `warden kill` stays off the SSH server's code).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { makeTempDir, readText, trackChild } from './processes.js';
import { REPO_ROOT } from './redis.js';
import { ensureBuilt } from './warden-process.js';

const REGISTER = path.join(REPO_ROOT, 'test/fixtures/module-trace/register.mjs');

export interface TracedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Absolute paths of every module file loaded (ES modules and CommonJS), deduplicated. */
  modules: string[];
}

export function runCliTraced(args: string[], timeoutMs = 60_000): Promise<TracedRun> {
  ensureBuilt();
  const trace = path.join(makeTempDir('trace'), 'modules.txt');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', REGISTER, path.join(REPO_ROOT, 'bin/warden.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WARDEN_MODULE_TRACE: trace },
    });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, modules: [...new Set(readText(trace).split('\n').filter(Boolean))] });
    });
  });
}
