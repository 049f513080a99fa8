/**
 * Warden as the benchmark runs it: its own process (`node bin/warden.js start`, the compiled
 * dist/ as deployed) with a config that keeps every shipped default (log level, auth, target
 * and registry timings, recording on, the example's session policy) and only names the
 * listener, Redis, the users, assets, accounts and grants. A row about one knob (recording
 * off, a 3 s idle timeout) passes just that knob, and its label says so.
 *
 * The test helpers' config is deliberately NOT used: it shortens the login grace time, the
 * target connect timeout and the registry flush interval, and logs at debug level.
 *
 * Warden listens on port 0 and the port is read back from its "warden started" log line, so no
 * other process can take the port between picking and binding.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTempDir, readText, removeTempDir, tail, trackChild, waitForExit, waitUntil } from '../test/helpers/processes.js';
import { REPO_ROOT, uniquePrefix } from '../test/helpers/redis.js';
import type { SshdHandle } from '../test/helpers/sshd.js';

export interface BenchWardenOptions {
  redisUrl: string;
  /** The target sshd (asset web1, and idle1 for the idle row). */
  target: SshdHandle;
  /** An extra sshd reachable as asset `probe` with the same account key (cipher probe). */
  probe?: SshdHandle;
  /** Top-level YAML appended verbatim: the knob a row is about (e.g. `recording: { enabled: false }`). */
  extraYaml?: string;
  /** Session policy of the `idle1` asset's grant (flow YAML), e.g. `{ idleTimeout: 3s, idleWarning: 1s }`. */
  idleGrant?: string;
  instanceId?: string;
  /** Shared by instances that form one fleet (kill latency); default a fresh one. */
  redisPrefix?: string;
  /** More `warden start` arguments (a row about a command-line knob). */
  args?: string[];
  /** Options for node itself, before the script (e.g. --heapsnapshot-signal in experiments). */
  nodeArgs?: string[];
}

export interface BenchWarden {
  pid: number;
  port: number;
  dir: string;
  configFile: string;
  logPath: string;
  aliceKey: string;
  redisPrefix: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * The session policy of warden.example.yaml, the configuration users start from; everything
 * else is the schema's default.
 */
export const SHIPPED_SESSION_POLICY = 'session:\n  idleTimeout: 30m\n  idleWarning: 1m\n  idleActivity: input\n';

export function benchConfigYaml(opts: BenchWardenOptions & { alicePub: string; redisPrefix: string }): string {
  const { target, probe } = opts;
  const asset = (host: SshdHandle) => `{ host: 127.0.0.1, port: ${host.port}, hostKey: "${host.hostKeyLine}" }`;
  return [
    'listen: 127.0.0.1:0',
    'hostKeyFile: ./data/host_ed25519',
    'dataDir: ./data',
    `redis: ${opts.redisUrl}`,
    `redisPrefix: ${opts.redisPrefix}`,
    ...(opts.instanceId ? [`instanceId: ${opts.instanceId}`] : []),
    SHIPPED_SESSION_POLICY,
    'users:',
    '  alice:',
    `    keys: ["${opts.alicePub}"]`,
    'assets:',
    `  web1: ${asset(target)}`,
    `  idle1: ${asset(target)}`,
    ...(probe ? [`  probe: ${asset(probe)}`] : []),
    'accounts:',
    `  target: { username: ${target.user}, privateKeyFile: ${target.clientKeyPath} }`,
    'grants:',
    `  - { users: [alice], assets: [web1${probe ? ', probe' : ''}], accounts: [target] }`,
    `  - { users: [alice], assets: [idle1], accounts: [target]${opts.idleGrant ? `, session: ${opts.idleGrant}` : ''} }`,
    opts.extraYaml ?? '',
    '',
  ].join('\n');
}

/**
 * One process unless a row asks for `--workers N`: the rows that read Warden's pid (RSS, CPU)
 * measure that process, and the single-stream rows compare one relay with one sshd.
 */
function workersArgs(args: string[]): string[] {
  return args.includes('--workers') ? args : [...args, '--workers', '1'];
}

/** `"address":"127.0.0.1:40123"` from the JSON "warden started" line. */
function startedPort(log: string): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"warden started"')) continue;
    try {
      const address = (JSON.parse(line) as { address?: string }).address;
      const port = Number(address?.slice(address.lastIndexOf(':') + 1));
      if (port > 0) return port;
    } catch {
      // not JSON: keep looking
    }
  }
  return undefined;
}

export async function startBenchWarden(opts: BenchWardenOptions): Promise<BenchWarden> {
  const dir = makeTempDir('bench-warden');
  const aliceKey = path.join(dir, 'alice_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@bench', '-f', aliceKey]);
  const alicePub = readFileSync(`${aliceKey}.pub`, 'utf8').trim();
  const redisPrefix = opts.redisPrefix ?? uniquePrefix();
  const configFile = path.join(dir, 'warden.yaml');
  writeFileSync(configFile, benchConfigYaml({ ...opts, alicePub, redisPrefix }));
  const logPath = path.join(dir, 'warden.log');
  const fd = openSync(logPath, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The shipped log level (info), and no tsx loader: Warden runs the compiled dist/.
  delete env.WARDEN_LOG_LEVEL;
  if (env.NODE_OPTIONS?.includes('tsx')) delete env.NODE_OPTIONS;
  let child: ChildProcess;
  try {
    // WARDEN_BENCH_CPU_PROF=DIR: each Warden writes a V8 CPU profile there when it stops.
    const prof = process.env.WARDEN_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.WARDEN_BENCH_CPU_PROF] : [];
    child = spawn(process.execPath, [...prof, ...(opts.nodeArgs ?? []), path.join(REPO_ROOT, 'bin', 'warden.js'), 'start', '--config', configFile, ...workersArgs(opts.args ?? [])], { cwd: dir, env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  trackChild(child);
  const proc = child;
  let spawnError: Error | undefined;
  proc.once('error', (err) => (spawnError = err));
  let port: number | undefined;
  try {
    await waitUntil(
      'warden started',
      async () => (port = startedPort(readText(logPath))) !== undefined,
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        failure: () => {
          if (spawnError) return `cannot start warden: ${spawnError.message}`;
          if (proc.exitCode !== null || proc.signalCode !== null) return `warden exited (${proc.exitCode ?? proc.signalCode})`;
          return undefined;
        },
        details: () => `--- ${logPath} ---\n${tail(readText(logPath))}`,
      },
    );
  } catch (err) {
    proc.kill('SIGKILL');
    await waitForExit(proc, 2000);
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    pid: proc.pid!,
    port: port!,
    dir,
    configFile,
    logPath,
    aliceKey,
    redisPrefix,
    log: () => readText(logPath),
    stop: () =>
      (stopped ??= (async () => {
        proc.kill('SIGTERM');
        await waitForExit(proc, 10_000);
        removeTempDir(dir);
      })()),
  };
}
