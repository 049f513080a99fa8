/**
 * Warden as its own process (`node bin/warden.js start`), for tests that kill -9 an instance
 * or run several instances against one Redis, as in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
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
  /**
   * `--workers N` (default 1: one process, as every suite not about workers expects: its pid is
   * Warden's, a kill -9 of it loses its sessions; production's default is one per core).
   */
  workers?: number;
}

/** The e2e suites run the compiled CLI and its bundle; build once if this checkout has no dist yet. */
export function ensureBuilt(): void {
  if (!existsSync(path.join(REPO_ROOT, 'dist/src/cli.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (!existsSync(path.join(REPO_ROOT, 'dist/cli/warden.cjs'))) execFileSync(process.execPath, ['scripts/build-cli.js'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (!existsSync(path.join(REPO_ROOT, 'dist/console/index.html'))) execFileSync(process.execPath, ['scripts/build-console.js'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/**
 * Start `warden start`; without `port` it binds one itself (listen 127.0.0.1:0) and the port is
 * read back from its "listening" log line: a port picked here and bound there could be taken
 * meanwhile.
 */
export async function spawnWarden(opts: WardenOptions & SpawnOptions): Promise<WardenProcess> {
  ensureBuilt();
  const dir = makeTempDir('warden-proc-');
  const { configFile, aliceKey } = await writeWardenConfig(dir, { ...opts, port: opts.port ?? 0 });
  return launch(configFile, aliceKey, opts);
}

async function launch(configFile: string, aliceKey: string, opts: SpawnOptions): Promise<WardenProcess> {
  const logPath = path.join(path.dirname(configFile), 'warden.log');
  const logStart = readText(logPath).length;
  const fd = openSync(logPath, 'a');
  const argv = [path.join(REPO_ROOT, 'bin/warden.js'), 'start', '--config', configFile, '--workers', String(opts.workers ?? 1)];
  const [cmd, args] = opts.umask ? ['/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, WARDEN_LOG_LEVEL: 'debug' },
    detached: opts.detached,
  });
  closeSync(fd);
  trackChild(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let port = 0;
  await waitUntil('warden listening', async () => {
    port = listeningPort(readText(logPath).slice(logStart)) ?? 0;
    return port !== 0 && (await tryConnect(port));
  }, {
    // Each worker loads and starts a whole instance; on a loaded machine N of them take longer.
    timeoutMs: 30_000 * Math.max(1, opts.workers ?? 1),
    failure: () => (child.exitCode !== null ? `exited with ${child.exitCode}` : undefined),
    details: () => readText(logPath),
  });
  return {
    child,
    port,
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

/** The port of the first "listening" line in a JSON log. */
function listeningPort(log: string): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"listening"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; address?: string };
      const port = entry.msg === 'listening' ? Number(entry.address?.split(':').pop()) : NaN;
      if (port > 0) return port;
    } catch {
      // a partly written line: read again on the next poll
    }
  }
  return undefined;
}

/**
 * Run the CLI (`warden ARGS`) to completion, with `stdin` as its input (default: none): `node
 * bin/warden.js`, or `node.executable` (the bin/warden launcher, a link to it) run directly.
 */
export function runCli(
  args: string[],
  timeoutMs = 60_000,
  stdin?: string,
  node: { args?: string[]; env?: NodeJS.ProcessEnv; executable?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  ensureBuilt();
  const started = Date.now();
  return new Promise((resolve) => {
    const [file, argv] = node.executable ? [node.executable, args] : [process.execPath, [...(node.args ?? []), path.join(REPO_ROOT, 'bin/warden.js'), ...args]];
    const child = spawn(file, argv, {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: node.env ?? process.env,
    });
    trackChild(child);
    child.stdin?.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
