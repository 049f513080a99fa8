/**
 * Warden under test, in this process (so tests can look at the supervisor and the heap), with
 * a config written to a temp dir exactly as a user would write it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { startInstance, type Instance } from '../../src/instance.js';
import { createLogger } from '../../src/logger.js';
import { hashPassword } from '../../src/password.js';
import { makeTempDir, removeTempDir } from './processes.js';
import { uniquePrefix } from './redis.js';
import type { SshdHandle } from './sshd.js';
import { BASE_OPTIONS } from './ssh-client.js';

export const ALICE_PASSWORD = 'alice-secret-pw';

/** argv of the real ssh client logging in to Warden as alice with her key (for tmux). */
export function aliceSsh(w: { port: number; aliceKey: string }, login: string): string[] {
  return ['ssh', ...BASE_OPTIONS, '-i', w.aliceKey, '-o', 'IdentitiesOnly=yes', '-p', String(w.port), '-l', login, '127.0.0.1'];
}

export interface WardenHandle {
  instance: Instance;
  port: number;
  dir: string;
  configFile: string;
  /** alice's private key (ed25519) for publickey logins. */
  aliceKey: string;
  /** JSON log lines written so far (debug logs and audit events). */
  logs(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface WardenOptions {
  /** Leave out (and `redisYaml` too) for the embedded redis-server, as in the quickstart. */
  redisUrl?: string;
  /** The `redis:` value as flow YAML (Sentinel or Cluster settings), instead of a URL. */
  redisYaml?: string;
  sshd: SshdHandle;
  /** YAML appended to the generated config (top-level keys such as `session:`). */
  extraYaml?: string;
  /** YAML of extra keys inside alice's main grant, e.g. `session: { idleTimeout: 3s }`. */
  grantExtra?: string;
  /** A port nothing listens on, for the "target down" asset (default 1: privileged, unused, never picked by a test). */
  deadPort?: number;
  prefix?: string;
  /** YAML lines appended to the grants list (each starting with "  - "). */
  extraGrants?: string;
  /** Fixed listen port (default: any free port, for in-process use). */
  port?: number;
  instanceId?: string;
  /** The auth: block (flow YAML). */
  auth?: string;
  /** YAML lines appended to the assets map (each starting with "  NAME: "). */
  extraAssets?: string;
}

let cachedHash: string | undefined;

/**
 * Tests and benchmarks open many connections from 127.0.0.1 at once: admission (MaxStartups,
 * per source) is tested on its own with the defaults, and must not drop these at random.
 */
export const GENEROUS_ADMISSION = 'maxStartups: "500:30:1000", perSourceMaxStartups: 500';

export async function writeWardenConfig(dir: string, opts: WardenOptions): Promise<{ configFile: string; aliceKey: string }> {
  const aliceKey = path.join(dir, 'alice_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@test', '-f', aliceKey]);
  const alicePub = readFileSync(`${aliceKey}.pub`, 'utf8').trim();
  cachedHash ??= await hashPassword(ALICE_PASSWORD);
  const { sshd } = opts;
  const grantExtra = opts.grantExtra ? `, ${opts.grantExtra}` : '';
  const yaml = `
listen: 127.0.0.1:${opts.port ?? 0}
hostKeyFile: ./host_ed25519
dataDir: ./data
${opts.redisYaml ? `redis: ${opts.redisYaml}` : opts.redisUrl ? `redis: ${opts.redisUrl}` : '# no redis: the embedded redis-server'}
redisPrefix: ${opts.prefix ?? uniquePrefix()}
auth: ${opts.auth ?? `{ maxTries: 6, loginGraceTime: 60s, ${GENEROUS_ADMISSION} }`}
target: { connectTimeout: 30s, keepaliveInterval: 15s }
registry: { activityFlushInterval: 200ms }
users:
  alice:
    password: "${cachedHash}"
    keys: ["${alicePub}"]
  bob:
    password: "${cachedHash}"
assets:
  web1: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.hostKeyLine}" }
  web2: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.hostKeyLine}" }
  tofu1: { host: 127.0.0.1, port: ${sshd.port}, hostKey: tofu }
  evil: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.otherHostKeyLine}" }
  down: { host: 127.0.0.1, port: ${opts.deadPort ?? 1}, hostKey: "${sshd.hostKeyLine}" }
  secret: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.hostKeyLine}" }
  idle1: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.hostKeyLine}" }
  audit1: { host: 127.0.0.1, port: ${sshd.port}, hostKey: "${sshd.hostKeyLine}" }
${opts.extraAssets ?? ''}
accounts:
  target: { username: ${sshd.user}, privateKeyFile: ${sshd.clientKeyPath} }
  other: { username: ${sshd.user}, privateKeyFile: ${sshd.clientKeyPath} }
grants:
  - { users: [alice], assets: [web1, web2, tofu1, evil, down], accounts: [target]${grantExtra} }
  - { users: [alice], assets: [web2], accounts: [other] }
  - { users: [bob], assets: [web1], accounts: [target] }
${opts.extraGrants ?? ''}
${opts.instanceId ? `instanceId: ${opts.instanceId}` : ''}
${opts.extraYaml ?? ''}
`;
  const configFile = path.join(dir, 'warden.yaml');
  writeFileSync(configFile, yaml);
  return { configFile, aliceKey };
}

/** A debug logger whose JSON lines (debug log and audit events alike) the test can read. */
export function capturedLogger(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ destination: sink, level: 'debug' }), lines };
}

export async function startWarden(opts: WardenOptions): Promise<WardenHandle> {
  const dir = makeTempDir('warden-');
  const { configFile, aliceKey } = await writeWardenConfig(dir, opts);
  const { log, lines } = capturedLogger();
  const instance = await startInstance(loadConfig(configFile), log, log.child({ audit: true }));
  return {
    instance,
    port: instance.address.port,
    dir,
    configFile,
    aliceKey,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async () => {
      await instance.stop();
      removeTempDir(dir);
    },
  };
}
