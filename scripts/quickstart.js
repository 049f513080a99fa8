#!/usr/bin/env node
/**
 * `npm run quickstart`: a working bastion from a fresh clone, in one command.
 *
 *   1. system packages (redis-server, openssh-client, openssh-server) via apt-get as root,
 *      or a message naming what to install;
 *   2. node modules and the build (`npm ci`), if missing;
 *   3. a demo target: a throw-away sshd on 127.0.0.1:2200 (state in ./data/demo), logging in
 *      the `warden-demo` user (created when run as root) or yourself otherwise;
 *   4. Warden on 127.0.0.1:2222 with warden.example.yaml and the embedded Redis (./data).
 *
 * Ctrl-C stops Warden (users are told, records finalised) and the demo sshd.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemDeps } from './ensure-system-deps.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demo = path.join(root, 'data', 'demo');
const isRoot = process.getuid?.() === 0;

function must(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (res.status !== 0) {
    console.error(`quickstart: ${cmd} ${args.join(' ')} failed`);
    process.exit(res.status ?? 1);
  }
}

try {
  ensureSystemDeps({ purpose: 'quickstart' });
} catch (err) {
  console.error(`quickstart: ${err.message}`);
  process.exit(1);
}
if (!existsSync(path.join(root, 'node_modules'))) must('npm', ['ci', '--no-audit', '--no-fund']);
if (!existsSync(path.join(root, 'dist', 'src', 'cli.js'))) must('npm', ['run', 'build']);

// --- the demo target ---------------------------------------------------------------------
let user = os.userInfo().username;
if (isRoot) {
  user = 'warden-demo';
  if (spawnSync('id', [user], { stdio: 'ignore' }).status !== 0) {
    must('useradd', ['-m', '-s', '/bin/bash', user]);
    // A '!' password field means "locked" to sshd, which then refuses even key logins.
    must('usermod', ['-p', '*', user]);
  }
  mkdirSync('/run/sshd', { recursive: true });
}
mkdirSync(demo, { recursive: true, mode: 0o755 });
const key = (name) => {
  const file = path.join(demo, name);
  if (!existsSync(file)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `warden ${name}`, '-f', file]);
  return file;
};
const hostKey = key('sshd_host_ed25519');
const targetKey = key('target_ed25519');
const authorized = path.join(demo, 'authorized_keys');
writeFileSync(authorized, readFileSync(`${targetKey}.pub`), { mode: 0o644 });
const sshdConfig = path.join(demo, 'sshd_config');
writeFileSync(
  sshdConfig,
  [
    'ListenAddress 127.0.0.1',
    'Port 2200',
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${authorized}`,
    `PidFile ${path.join(demo, 'sshd.pid')}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    `AllowUsers ${user}`,
    'Subsystem sftp internal-sftp',
    'AcceptEnv LANG LC_*',
    '',
  ].join('\n'),
);
const sshdLog = openSync(path.join(demo, 'sshd.log'), 'a');
const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', sshdConfig], { stdio: ['ignore', sshdLog, sshdLog] });
sshd.on('exit', (code) => {
  if (code) console.error(`quickstart: the demo sshd exited with ${code}; see ${path.join(demo, 'sshd.log')}`);
});

// --- Warden --------------------------------------------------------------------------------
console.error(`
  Warden demo: bastion on 127.0.0.1:2222, target "demo" = sshd on 127.0.0.1:2200 as ${user}.
  Try:   ssh -p 2222 alice@127.0.0.1             (password: alice)
         ssh -p 2222 alice@demo@127.0.0.1 uptime
  Admin: bin/warden sessions --all --config warden.example.yaml
         http://127.0.0.1:8022/  web console (sign in as carol, password carol)
  Ctrl-C stops both.
`);
const warden = spawn(process.execPath, [path.join(root, 'bin', 'warden.js'), 'start', '--config', path.join(root, 'warden.example.yaml'), '--pretty'], {
  stdio: 'inherit',
  env: { ...process.env, WARDEN_DEMO_USER: user },
});
const stop = () => warden.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
warden.on('exit', (code) => {
  sshd.kill('SIGTERM');
  process.exit(code ?? 0);
});
