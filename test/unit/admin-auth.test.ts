/** Admin API pure parts: the config section, token hashes, login limits, cookie sessions and CSRF. */
import { describe, expect, it } from 'vitest';
import { AdminAuth, cookieValue, SESSION_COOKIE } from '../../src/admin/admin-auth.js';
import { LoginLimiter } from '../../src/admin/login-limiter.js';
import { hashToken, matchToken, newToken } from '../../src/admin/tokens.js';
import { parseConfig } from '../../src/config.js';
import { configError as errorOf } from '../helpers/config-error.js';
import { hashPassword } from '../../src/password.js';

const minimal = (admin: string) => `users: {}\nassets: {}\naccounts: {}\ngrants: []\nadmin:\n${admin}`;


describe('admin config', () => {
  it('accepts loopback without tls, resolves tls paths, and refuses a public listen without tls', () => {
    const cfg = parseConfig(minimal('  listen: 127.0.0.1:8022\n'), '/etc/warden/warden.yaml');
    expect(cfg.admin?.listen).toEqual({ host: '127.0.0.1', port: 8022 });
    const tls = parseConfig(minimal('  listen: 0.0.0.0:8022\n  tls: { cert: ./a.crt, key: ./a.key }\n'), '/etc/warden/warden.yaml');
    expect(tls.admin?.tls).toEqual({ cert: '/etc/warden/a.crt', key: '/etc/warden/a.key' });
    expect(errorOf(minimal('  listen: 0.0.0.0:8022\n'))).toMatch(/admin\.listen: 0\.0\.0\.0 is not loopback: set tls/);
    expect(parseConfig(minimal('  listen: 0.0.0.0:8022\n  insecure: true\n'), '/x.yaml').admin?.insecure).toBe(true);
    expect(errorOf(minimal('  listen: 127.0.0.1:8022\n  tokens: { ci: { hash: plain, role: viewer } }\n'))).toMatch(/admin\.tokens\.ci\.hash: must be the output of `warden hash-token`/);
    expect(errorOf(minimal('  listen: 127.0.0.1:8022\n  admins: { carol: { password: "$scrypt$x", role: god } }\n'))).toMatch(/admin\.admins\.carol\.role/);
    expect(parseConfig(minimal('  listen: 127.0.0.1:8022\n  trustedProxies: [10.0.0.0/24]\n'), '/x.yaml').admin?.trustedProxies).toEqual(['10.0.0.0/24']);
    expect(errorOf(minimal('  listen: 127.0.0.1:8022\n  trustedProxies: [proxy.local]\n'))).toMatch(/admin\.trustedProxies\[0\]: an IP address or CIDR/);
  });
});

describe('tokens', () => {
  it('matches a token by its hash only', () => {
    const t = newToken();
    const tokens = { ci: { hash: hashToken(t), role: 'viewer' as const } };
    expect(matchToken(t, tokens)?.[0]).toBe('ci');
    expect(matchToken(`${t}x`, tokens)).toBeUndefined();
    expect(hashToken(t)).toMatch(/^\$sha256\$[0-9a-f]{64}$/);
  });
});

describe('login limiter', () => {
  it('blocks a source or a name after the limit, for one window', () => {
    let now = 0;
    const l = new LoginLimiter(3, () => now);
    for (let i = 0; i < 3; i++) l.fail('10.0.0.1', `user${i}`);
    expect(l.blocked('10.0.0.1', 'other')).toBe(true);
    expect(l.blocked('10.0.0.2', 'other')).toBe(false);
    for (let i = 0; i < 3; i++) l.fail(`10.0.1.${i}`, 'carol');
    expect(l.blocked('10.9.9.9', 'carol')).toBe(true);
    now += 60_000;
    expect(l.blocked('10.0.0.1', 'carol')).toBe(false);
  });
});

describe('admin auth', () => {
  it('logs in with a cookie session whose CSRF token must be echoed; bearer tokens need none', async () => {
    let now = 1_000;
    const token = newToken();
    const auth = new AdminAuth(
      {
        listen: { host: '127.0.0.1', port: 1 }, insecure: false, trustedProxies: [], sessionTtl: 60_000, loginAttempts: 2, metricsAuth: false, eventStreams: 100, eventsHeartbeat: 15_000,
        admins: { carol: { password: await hashPassword('pw-carol'), role: 'operator' } },
        tokens: { ci: { hash: hashToken(token), role: 'viewer' } },
      },
      () => now,
    );
    await expect(auth.login('carol', 'wrong', '1.1.1.1')).rejects.toThrow(/Wrong admin name or password/);
    await expect(auth.login('nobody', 'pw-carol', '1.1.1.1')).rejects.toThrow(/Wrong admin name or password/);
    await expect(auth.login('carol', 'pw-carol', '1.1.1.1')).rejects.toThrow(/Too many failed logins/);
    const { sid, csrf } = await auth.login('carol', 'pw-carol', '2.2.2.2');
    const who = auth.identify({ cookie: `a=b; ${SESSION_COOKIE}=${sid}` })!;
    expect(who).toMatchObject({ name: 'carol', role: 'operator', via: 'session' });
    expect(auth.csrfOk(who, undefined)).toBe(false);
    expect(auth.csrfOk(who, `${csrf}x`)).toBe(false);
    expect(auth.csrfOk(who, csrf)).toBe(true);
    const bot = auth.identify({ authorization: `Bearer ${token}` })!;
    expect(bot).toMatchObject({ name: 'ci', role: 'viewer', via: 'token' });
    expect(auth.csrfOk(bot, undefined)).toBe(true);
    expect(auth.identify({ authorization: 'Bearer nope' })).toBeUndefined();
    now += 60_001;
    expect(auth.identify({ cookie: `${SESSION_COOKIE}=${sid}` })).toBeUndefined();
    expect(cookieValue('x=1; y = 2', 'y')).toBe('2');
  });
});
