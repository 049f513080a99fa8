/**
 * bin/warden, the launcher an admin types: it hands NODE_EXTRA_CA_CERTS to every command but
 * `start` as WARDEN_EXTRA_CA_CERTS (Node would parse that bundle at every start), and the CLI
 * still trusts those CAs where it uses TLS: its Redis connection. Real redis-server with TLS,
 * certificates made by openssl.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir } from '../helpers/processes.js';
import { REPO_ROOT, startRedis, type RedisHandle } from '../helpers/redis.js';
import { runCli } from '../helpers/warden-process.js';

const LAUNCHER = path.join(REPO_ROOT, 'bin/warden');

/** Run the launcher (or a link to it) with exactly `env`. */
const run = (args: string[], env: NodeJS.ProcessEnv, launcher = LAUNCHER) => runCli(args, 60_000, undefined, { env, executable: launcher });

/** The environment without either variable, plus `extra`. */
function envWith(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _a, WARDEN_EXTRA_CA_CERTS: _b, ...rest } = process.env;
  return { ...rest, ...extra };
}

describe('bin/warden hands NODE_EXTRA_CA_CERTS over', () => {
  it('moves it for CLI commands, keeps it for `start`, and passes the arguments through', async () => {
    // A `node` first on PATH that prints what it was given instead of running Warden.
    const fake = makeTempDir('fake-node');
    writeFileSync(path.join(fake, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@"\necho "NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-}"\necho "WARDEN_EXTRA_CA_CERTS=${WARDEN_EXTRA_CA_CERTS:-}"\n');
    chmodSync(path.join(fake, 'node'), 0o755);
    const env = envWith({ PATH: `${fake}:${process.env.PATH}`, NODE_EXTRA_CA_CERTS: '/etc/some ca.pem' });

    const kill = await run(['kill', 'ab cd', '--reason', 'it is "late"'], env);
    expect(kill.stdout.split('\n')).toEqual([path.join(REPO_ROOT, 'bin/warden.js'), 'kill', 'ab cd', '--reason', 'it is "late"', 'NODE_EXTRA_CA_CERTS=', 'WARDEN_EXTRA_CA_CERTS=/etc/some ca.pem', '']);
    const start = await run(['start', '--config', 'w.yaml'], env);
    expect(start.stdout).toContain('NODE_EXTRA_CA_CERTS=/etc/some ca.pem\nWARDEN_EXTRA_CA_CERTS=\n');
    const unset = await run(['sessions'], envWith({ PATH: env.PATH }));
    expect(unset.stdout).toContain('NODE_EXTRA_CA_CERTS=\nWARDEN_EXTRA_CA_CERTS=\n');
    // Through a symbolic link elsewhere, as `npm link` installs it: bin/warden.js is still found.
    const link = path.join(makeTempDir('linked-bin'), 'warden');
    symlinkSync(LAUNCHER, link);
    const linked = await run(['terminals'], envWith({ PATH: env.PATH }), link);
    expect(linked.stdout.split('\n')[0]).toBe(path.join(REPO_ROOT, 'bin/warden.js'));
  });
});

describe('a CLI command on Redis over TLS, trusting a CA given only in NODE_EXTRA_CA_CERTS', () => {
  let redis: RedisHandle;
  let dir: string;
  let tlsPort: number;

  beforeAll(async () => {
    dir = makeTempDir('redis-tls');
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=warden test CA');
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'redis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'redis.pem', '-days', '2', '-extfile', 'san.ext');
    tlsPort = await freePort();
    redis = await startRedis({
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', path.join(dir, 'redis.pem'), '--tls-key-file', path.join(dir, 'redis.key'), '--tls-ca-cert-file', path.join(dir, 'ca.pem'), '--tls-auth-clients', 'no'],
    });
    writeFileSync(path.join(dir, 'warden.yaml'), `redis: rediss://127.0.0.1:${tlsPort}/0\nredisPrefix: tls-cli\ndataDir: ${dir}/data\n`);
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('lists sessions with the CA in the variable, and says why it cannot without it', async () => {
    const config = path.join(dir, 'warden.yaml');
    const trusted = await run(['sessions', '--json', '--config', config], envWith({ NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') }));
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(JSON.parse(trusted.stdout)).toEqual({ live: [], recent: [] });

    const untrusted = await run(['sessions', '--json', '--config', config], envWith({}));
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toContain(`rediss://127.0.0.1:${tlsPort}/0: self-signed certificate in certificate chain [REDIS_UNAVAILABLE]`);
  });
});
