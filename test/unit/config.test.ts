import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { configError as errorOf } from '../helpers/config-error.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop';
const HASH = '$scrypt$N=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

const base = `
listen: 127.0.0.1:2222
hostKeyFile: ./data/host_ed25519
dataDir: ./data
users:
  alice:
    password: "${HASH}"
    keys: ["${KEY}"]
assets:
  web1: { host: 10.0.0.5, port: 22, hostKey: "${KEY.split(' ').slice(0, 2).join(' ')}" }
  web2: { host: 10.0.0.6, hostKey: tofu }
accounts:
  deploy: { username: deploy, privateKeyFile: ./keys/deploy }
grants:
  - { users: [alice], assets: [web1], accounts: [deploy] }
`;


describe('config', () => {
  it('accepts the documented shape and resolves paths against the config file', () => {
    const cfg = parseConfig(base, '/etc/warden/warden.yaml');
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(cfg.hostKeyFile).toBe('/etc/warden/data/host_ed25519');
    expect(cfg.accounts.deploy!.privateKeyFile).toBe('/etc/warden/keys/deploy');
    expect(cfg.assets.web2!.port).toBe(22);
    expect(cfg.auth).toEqual({
      maxTries: 6, loginGraceTime: 60_000, penaltyThreshold: 30, penaltyWindow: 600_000,
      maxStartups: { start: 10, rate: 30, full: 100 }, perSourceMaxStartups: 5,
    });
    expect(cfg.limits).toEqual({ maxChannels: 10 });
    expect(cfg.env).toEqual({ allow: ['LANG', 'LC_*', 'GIT_PROTOCOL'] });
    expect(cfg.redis).toBeUndefined();
  });

  it('defaults finalise a lost instance\'s sessions within 15 s (lease + one reaper period)', () => {
    const { instance } = parseConfig(base, '/etc/warden/warden.yaml');
    // The reaper finds an expired lease at its next pass; its pass itself takes milliseconds.
    expect(instance.lease + instance.reaperInterval).toBeLessThanOrEqual(14_000);
    // A lease survives a few missed heartbeats (a GC pause, a slow Redis moment).
    expect(instance.lease / instance.heartbeatInterval).toBeGreaterThanOrEqual(3);
  });

  it('validates admission settings with their path', () => {
    const withAuth = (auth: string) => base.replace('dataDir: ./data', `dataDir: ./data\nauth: ${auth}`);
    expect(parseConfig(withAuth('{ maxStartups: "20:50:60", perSourceMaxStartups: none }'), '/w.yaml').auth).toMatchObject({ maxStartups: { start: 20, rate: 50, full: 60 }, perSourceMaxStartups: 'none' });
    expect(errorOf(withAuth('{ maxStartups: "60:50:20" }'))).toMatch(/auth\.maxStartups: "60:50:20" is not START:RATE:FULL/);
    expect(errorOf(base.replace('dataDir: ./data', 'dataDir: ./data\nenv: { allow: ["LC_*", "BAD-NAME"] }'))).toMatch(/env\.allow\[1\]/);
    const withProxies = (list: string) => base.replace('dataDir: ./data', `dataDir: ./data\nproxyProtocol: { trusted: ${list} }`);
    expect(parseConfig(withProxies('[10.0.0.0/8, "fd00::/8", 192.0.2.7]'), '/w.yaml').proxyProtocol.trusted).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    expect(parseConfig(base, '/w.yaml').proxyProtocol.trusted).toEqual([]);
    expect(errorOf(withProxies('[10.0.0.0/8, lb.example]'))).toMatch(/proxyProtocol\.trusted\[1\]: an IP address or CIDR, e\.g\. 10\.0\.0\.0\/8/);
  });

  it('narrows the algorithms offered to clients to subsets of Warden\'s own, in the order given', () => {
    const withAlgs = (a: string) => base.replace('dataDir: ./data', `dataDir: ./data\nalgorithms: ${a}`);
    const cfg = parseConfig(withAlgs('{ kex: [curve25519-sha256, diffie-hellman-group16-sha512], macs: [hmac-sha2-512-etm@openssh.com] }'), '/w.yaml');
    expect(cfg.algorithms).toEqual({ kex: ['curve25519-sha256', 'diffie-hellman-group16-sha512'], macs: ['hmac-sha2-512-etm@openssh.com'] });
    expect(parseConfig(base, '/w.yaml').algorithms).toEqual({});
    expect(errorOf(withAlgs('{ kex: [curve25519-sha256, diffie-hellman-group1-sha1] }'))).toMatch(/algorithms\.kex\[1\]: not one Warden offers \(curve25519-sha256, /);
    expect(errorOf(withAlgs('{ ciphers: [] }'))).toMatch(/algorithms\.ciphers: Too small/);
    expect(errorOf(withAlgs('{ macs: [hmac-sha2-256, hmac-sha2-256] }'))).toMatch(/algorithms\.macs: lists an algorithm twice/);
    expect(errorOf(withAlgs('{ hostKeys: [ssh-ed25519] }'))).toMatch(/algorithms: Unrecognized key: "hostKeys"/);
  });

  it('accepts the session policy block with durations', () => {
    const cfg = parseConfig(
      `${base}session:\n  idleTimeout: 30m\n  idleWarning: 1m\n  idleActivity: input\n  maxDuration: 8h\n`,
      '/w.yaml',
    );
    expect(cfg.session).toEqual({ idleTimeout: 1_800_000, idleWarning: 60_000, idleActivity: 'input', maxDuration: 28_800_000 });
  });

  it('names the key path of a bad value', () => {
    // zod's own messages are in English (zod/mini has no locale unless src/zod.ts loads one).
    expect(errorOf(base.replace('port: 22,', 'port: 99999,'))).toMatch(/assets\.web1\.port: Too big: expected number to be <=65535/);
    expect(errorOf(base.replace('listen: 127.0.0.1:2222', 'listen: nowhere'))).toMatch(/listen: "nowhere" is not HOST:PORT/);
    expect(errorOf(`${base}session: { idleTimeout: soon }\n`)).toMatch(/session\.idleTimeout: "soon" is not a duration/);
    expect(errorOf(base.replace(`keys: ["${KEY}"]`, 'keys: ["ssh-ed25519 nonsense"]'))).toMatch(/users\.alice\.keys\[0\]: not an OpenSSH public key/);
  });

  it('rejects unknown keys, with their path', () => {
    expect(errorOf(`${base}listne: 1\n`)).toMatch(/Unrecognized key: "listne"/);
    expect(errorOf(base.replace('hostKey: tofu', 'hostKey: tofu, colour: red'))).toMatch(/assets\.web2/);
  });

  it('checks that grants name existing users, assets and accounts', () => {
    expect(errorOf(base.replace('assets: [web1]', 'assets: [web1, web9]'))).toMatch(/grants\[0\]\.assets\[1\]: unknown asset "web9"/);
    expect(errorOf(base.replace('users: [alice]', 'users: [bob]'))).toMatch(/grants\[0\]\.users\[0\]: unknown user "bob"/);
  });

  it('requires a password hash from hash-password, not a plain password', () => {
    expect(errorOf(base.replace(HASH, 'hunter2'))).toMatch(/users\.alice\.password: must be the output of `warden hash-password`/);
  });

  it('reports YAML syntax errors with the file name and line, without quoting the expanded text', () => {
    expect(errorOf('users: [')).toMatch(/warden\.yaml: YAML syntax: line 2, column 1: unexpected end of the stream/);
    // The parser's excerpt of the file would show a ${VAR}'s value: a password, say.
    process.env.WARDEN_TEST_REDIS_PASSWORD = 'not-for-logs';
    try {
      const message = errorOf('redis: "redis://:${WARDEN_TEST_REDIS_PASSWORD}@redis:6379"\n  oops: 1\n');
      expect(message).toMatch(/YAML syntax: line 2, column 3: bad indentation of a mapping entry/);
      expect(message).not.toContain('not-for-logs');
    } finally {
      delete process.env.WARDEN_TEST_REDIS_PASSWORD;
    }
  });

  it('rejects an invalid command filter regex', () => {
    const text = base.replace('accounts: [deploy] }', "accounts: [deploy], commands: [{ deny: '(' }] }");
    expect(errorOf(text)).toMatch(/grants\[0\]\.commands/);
  });
});

describe('redis setting', () => {
  it('takes a URL, Sentinel settings or Cluster nodes; tls.caFile is resolved against the config file', () => {
    expect(parseConfig(`${base}redis: redis://10.0.0.9:6379/0\n`, '/w.yaml').redis).toBe('redis://10.0.0.9:6379/0');
    const sentinel = parseConfig(`${base}redis: { sentinels: [{ host: s1, port: 26379 }, { host: s2, port: 26379 }], name: warden, password: pw, tls: { caFile: ./ca.pem } }\n`, '/etc/warden/w.yaml');
    expect(sentinel.redis).toEqual({ sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'warden', password: 'pw', tls: { caFile: '/etc/warden/ca.pem' } });
    const cluster = parseConfig(`${base}redis: { cluster: [{ host: c1, port: 7000 }] }\n`, '/w.yaml');
    expect(cluster.redis).toEqual({ cluster: [{ host: 'c1', port: 7000 }] });
  });

  it('rejects a Sentinel setting without the master name, and mixed shapes', () => {
    expect(errorOf(`${base}redis: { sentinels: [{ host: s1, port: 26379 }] }\n`)).toMatch(/redis/);
    expect(errorOf(`${base}redis: { cluster: [{ host: c1, port: 7000 }], name: x }\n`)).toMatch(/redis/);
    expect(errorOf(`${base}redis: { cluster: [] }\n`)).toMatch(/redis/);
  });

  it('has the shutdown bound and the probe timings, with defaults', () => {
    const cfg = parseConfig(base, '/w.yaml');
    expect(cfg.shutdownTimeout).toBe(10_000);
    expect(cfg.registry).toMatchObject({ probeInterval: 1_000, probeTimeout: 1_000 });
    expect(parseConfig(`${base}shutdownTimeout: 3s\n`, '/w.yaml').shutdownTimeout).toBe(3_000);
  });
});

describe('the connection-only reading of a config (CLI registry commands)', () => {
  it('gives what the full config gives for Redis, dataDir, prefix and registry', async () => {
    const { parseConnectionConfig } = await import('../../src/config-connection.js');
    const text = `${base}redisPrefix: fleet-a\nregistry: { retention: 2d }\nredis: { sentinels: [{ host: s1, port: 26379 }], name: warden, tls: { caFile: ./ca.pem } }\n`;
    const full = parseConfig(text, '/etc/warden/w.yaml');
    const conn = parseConnectionConfig(text, '/etc/warden/w.yaml');
    expect(conn).toEqual({ file: full.file, dataDir: full.dataDir, redis: full.redis, redisPrefix: 'fleet-a', registry: full.registry });
    expect(conn.dataDir).toBe('/etc/warden/data');
    expect(conn.registry.retention).toBe(2 * 86_400_000);
  });

  it('ignores the other sections, so a kill works while they are being fixed; a bad Redis part is still an error', async () => {
    const { parseConnectionConfig } = await import('../../src/config-connection.js');
    const broken = base.replace(KEY, 'not a key').replace('port: 22', 'port: banana');
    expect(errorOf(broken)).toMatch(/users\.alice\.keys/);
    expect(parseConnectionConfig(broken, '/w.yaml').redisPrefix).toBe('warden');
    expect(() => parseConnectionConfig(`${base}redisPrefix: "a b"\nregistry: { retention: soon }\n`, '/w.yaml')).toThrow(/redisPrefix: [\s\S]*registry\.retention: "soon" is not a duration/);
  });
});

describe('environment in config', () => {
  it('expands ${NAME} and ${NAME:-default}, and names an unset variable', async () => {
    const { expandEnv } = await import('../../src/config-file.js');
    expect(expandEnv('user: ${WHO}\nport: ${PORT:-22}', { WHO: 'deploy' })).toBe('user: deploy\nport: 22');
    expect(() => expandEnv('a: 1\nb: ${MISSING}', {})).toThrow(/line 2: environment variable MISSING is not set/);
    expect(expandEnv('password: "$scrypt$N=1"', {})).toBe('password: "$scrypt$N=1"');
  });
});
