#!/usr/bin/env node
/**
 * Make sure the system programs Warden needs are installed.
 *
 *   node scripts/ensure-system-deps.js [--for test|start] [--check]
 *
 * --for start (Warden itself): redis-server for the embedded Redis, ssh-keygen for host keys.
 * --for test (default): also sshd targets, the ssh/scp/sftp clients, tmux for pty tests,
 *   asciinema to play recordings back, dropbear's dbclient and git for interop tests,
 *   chromium for the web console's browser tests.
 * --check: only report, never install.
 *
 * When something is missing: as root with apt-get, install the missing Debian packages;
 * otherwise print which packages and the command to install them, and exit 1.
 *
 * Plain Node ESM with no dependencies: it runs before `npm ci`.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** program → Debian package that ships it. Absolute paths are checked as they are. */
const PROGRAMS = {
  'redis-server': 'redis-server',
  '/usr/sbin/sshd': 'openssh-server',
  ssh: 'openssh-client',
  scp: 'openssh-client',
  sftp: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  tmux: 'tmux',
  asciinema: 'asciinema',
  // A full-screen program for the command-log tests (tagged, not parsed).
  vi: 'vim-tiny',
  // Runs bash in a pty (optionally echoing late) for the command-log and filter-gate tests
  // (test/helpers/pty-shell.ts), and records the golden terminal transcripts.
  python3: 'python3',
  // Interop: dropbear's client sends a guessed KEX packet (first_kex_packet_follows).
  dbclient: 'dropbear-bin',
  // git clone through Warden must negotiate protocol v2 (GIT_PROTOCOL passed through).
  git: 'git',
  // File-transfer audit tests: rsync over ssh, and paramiko as a second SFTP client (Debian's
  // python3, not whatever python3 is first on PATH).
  rsync: 'rsync',
  '/usr/lib/python3/dist-packages/paramiko/__init__.py': 'python3-paramiko',
  // Redis Sentinel failover tests (the Cluster tests use redis-server and redis-cli).
  'redis-sentinel': 'redis-sentinel',
  'redis-cli': 'redis-tools',
  // Test certificates for Redis over TLS (the CLI's trust store).
  openssl: 'openssl',
  // The web console's browser tests: playwright-core drives Debian's headless chromium.
  chromium: 'chromium',
  // Stock clients other than OpenSSH's (test/e2e/clients.test.ts): PuTTY's command-line
  // tools, asyncssh (Debian's python3), ansible, and ssh-audit on the front door.
  plink: 'putty-tools',
  pscp: 'putty-tools',
  psftp: 'putty-tools',
  puttygen: 'putty-tools',
  '/usr/lib/python3/dist-packages/asyncssh/__init__.py': 'python3-asyncssh',
  ansible: 'ansible-core',
  'ssh-audit': 'ssh-audit',
  // Warden behind a load balancer that sends the PROXY protocol.
  haproxy: 'haproxy',
};

export const PURPOSES = {
  start: ['redis-server', 'ssh-keygen'],
  // The demo of the README: Warden plus a local sshd as its target, and a client to try it.
  quickstart: ['redis-server', 'ssh-keygen', '/usr/sbin/sshd', 'ssh'],
  test: Object.keys(PROGRAMS),
};

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Look a program up on PATH, plus the sbin dirs a non-root PATH often lacks. */
export function findProgram(name) {
  // A Python module is a file to import, not a program to run.
  if (name.endsWith('.py')) return existsSync(name) ? name : undefined;
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Missing programs for a purpose, with the packages that provide them. */
export function missingDeps(purpose = 'test') {
  const programs = PURPOSES[purpose];
  if (!programs) throw new Error(`unknown purpose "${purpose}" (use ${Object.keys(PURPOSES).join(' or ')})`);
  const programsMissing = programs.filter((p) => findProgram(p) === undefined);
  const packages = [...new Set(programsMissing.map((p) => PROGRAMS[p]))];
  return { programs: programsMissing, packages };
}

function run(cmd, args, env = process.env) {
  console.error(`$ ${[cmd, ...args].join(' ')}`);
  const res = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${res.status ?? res.signal}`);
}

function installCommand(packages) {
  return `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/**
 * Install Debian packages with apt-get. Services are not started during the install
 * (policy-rc.d says "no"): the tests run their own sshd and redis-server on random ports and
 * must not depend on, or collide with, a system sshd on port 22 or a redis on 6379.
 */
function aptInstall(packages) {
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# written by warden scripts/ensure-system-deps.js\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const aptGet = findProgram('apt-get') ?? '/usr/bin/apt-get';
    run(aptGet, ['update'], env);
    run(aptGet, ['install', '-y', '--no-install-recommends', ...packages], env);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

/**
 * Ensure the programs for `purpose` exist, installing them when possible.
 * Returns the packages it installed; throws (with the install command) when it cannot.
 */
export function ensureSystemDeps({ purpose = 'test', install = true } = {}) {
  const { programs, packages } = missingDeps(purpose);
  if (packages.length === 0) return [];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const canApt = findProgram('apt-get') !== undefined || isExecutable('/usr/bin/apt-get');
  if (!install || !isRoot || !canApt) {
    const how = canApt
      ? `  ${isRoot ? '' : 'sudo sh -c '}${isRoot ? installCommand(packages) : `'${installCommand(packages)}'`}`
      : '  (no apt-get here: install the equivalents with your package manager)';
    const err = new Error(
      `missing programs for "${purpose}": ${programs.join(', ')}\n` +
        `Debian packages needed: ${packages.join(' ')}\n` +
        `install them with:\n${how}`,
    );
    err.code = 'MISSING_SYSTEM_DEPS';
    throw err;
  }
  console.error(`installing missing system packages: ${packages.join(' ')}`);
  aptInstall(packages);
  const still = missingDeps(purpose);
  if (still.programs.length > 0) {
    throw new Error(`still missing after apt-get install: ${still.programs.join(', ')}`);
  }
  return packages;
}

function parseArgs(argv) {
  let purpose = 'test';
  let install = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--for') purpose = argv[++i] ?? '';
    else if (a.startsWith('--for=')) purpose = a.slice('--for='.length);
    else if (a === '--check') install = false;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/ensure-system-deps.js [--for test|start] [--check]');
      process.exit(0);
    } else throw new Error(`unknown argument: ${a}`);
  }
  return { purpose, install };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const installed = ensureSystemDeps(opts);
    console.error(
      installed.length > 0
        ? `system dependencies for "${opts.purpose}": installed ${installed.join(' ')}`
        : `system dependencies for "${opts.purpose}": all present`,
    );
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
