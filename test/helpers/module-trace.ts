/**
 * Run the CLI (`node bin/warden.js ARGS`) and list the module files it loaded, to check what a
 * command pulls in (e.g. that `warden kill` stays off the SSH server's code).
 */
import path from 'node:path';
import { makeTempDir, readText } from './processes.js';
import { REPO_ROOT } from './redis.js';
import { runCli } from './warden-process.js';

const REGISTER = path.join(REPO_ROOT, 'test/fixtures/module-trace/register.mjs');

export interface TracedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Absolute paths of every module file loaded (ES modules and CommonJS), deduplicated. */
  modules: string[];
  /** Node's built-in modules it loaded (`tls`, `internal/streams/readable`, ...). */
  builtins: string[];
}

export async function runCliTraced(args: string[], timeoutMs = 60_000): Promise<TracedRun> {
  const trace = path.join(makeTempDir('trace'), 'modules.txt');
  const run = await runCli(args, timeoutMs, undefined, { args: ['--import', REGISTER], env: { ...process.env, WARDEN_MODULE_TRACE: trace } });
  const lines = [...new Set(readText(trace).split('\n').filter(Boolean))];
  const builtin = (l: string) => l.startsWith('builtin:');
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, modules: lines.filter((l) => !builtin(l)), builtins: lines.filter(builtin).map((l) => l.slice('builtin:'.length)) };
}
