/**
 * Warden as its own process (`node bin/warden.js start`), for tests that kill -9 an instance
 * or run several instances against one Redis, as in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTempDir, readText, trackChild, tryConnect, waitUntil } from './processes.js';
import { REPO_ROOT } from './redis.js';
import { writeWardenConfig, type WardenOptions } from './warden.js';

export interface WardenProcess {
  child: ChildProcess;
  port: number;
  configFile: string;
  aliceKey: string;
  logPath: string;
  log(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** Start Warden again with the same config, port and data dir (after it exited). */
  again(): Promise<WardenProcess>;
}

export interface SpawnOptions {
  /** Own process group, as a terminal's foreground job: the test can signal the whole group. */
  detached?: boolean;
  /** Start under this umask (e.g. '022'), whatever the test runner's. */
  umask?: string;
}

/** The e2e suites run the compiled CLI; build once if this checkout has no dist yet. */
export function ensureBuilt(): void {
  if (!existsSync(path.join(REPO_ROOT, 'dist/src/cli.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

export async function spawnWarden(opts: WardenOptions & SpawnOptions & { port: number }): Promise<WardenProcess> {
  ensureBuilt();
  const dir = makeTempDir('warden-proc-');
  const { configFile, aliceKey } = await writeWardenConfig(dir, opts);
  return launch(configFile, aliceKey, opts);
}

async function launch(configFile: string, aliceKey: string, opts: SpawnOptions & { port: number }): Promise<WardenProcess> {
  const logPath = path.join(path.dirname(configFile), 'warden.log');
  const fd = openSync(logPath, 'a');
  const argv = [path.join(REPO_ROOT, 'bin/warden.js'), 'start', '--config', configFile];
  const [cmd, args] = opts.umask ? ['/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, WARDEN_LOG_LEVEL: 'debug' },
    detached: opts.detached,
  });
  trackChild(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitUntil(`warden on port ${opts.port}`, () => tryConnect(opts.port), {
    timeoutMs: 20_000,
    failure: () => (child.exitCode !== null ? `exited with ${child.exitCode}` : undefined),
    details: () => readText(logPath),
  });
  return {
    child,
    port: opts.port,
    configFile,
    aliceKey,
    logPath,
    log: () => readText(logPath),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill9: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    exited,
    again: () => launch(configFile, aliceKey, opts),
  };
}

/** Run the CLI (`warden ARGS`) to completion. */
export function runCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  ensureBuilt();
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/warden.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
