import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { parseLoginName, permissionsFor, resolveTarget } from '../../src/grants.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const cfg = parseConfig(
  `
users: { alice: { keys: ["${KEY}"] }, bob: { keys: ["${KEY}"] } }
assets:
  web1: { host: 10.0.0.5, hostKey: tofu }
  web2: { host: 10.0.0.6, hostKey: tofu }
  db1: { host: 10.0.0.7, hostKey: tofu }
accounts:
  deploy: { username: deploy, passwordFile: ./pw }
  ops: { username: ops, passwordFile: ./pw }
session: { idleTimeout: 10m }
grants:
  - { users: [alice], assets: [web1, web2], accounts: [deploy], session: { idleTimeout: 5m } }
  - { users: [alice], assets: [web1], accounts: [ops] }
  - { users: ['*'], assets: [db1], accounts: [ops] }
`,
  '/w.yaml',
);

describe('login names', () => {
  it('parses user, user@asset and user@account@asset', () => {
    expect(parseLoginName('alice')).toEqual({ user: 'alice' });
    expect(parseLoginName('alice@web1')).toEqual({ user: 'alice', asset: 'web1' });
    expect(parseLoginName('alice@deploy@web1')).toEqual({ user: 'alice', account: 'deploy', asset: 'web1' });
  });
});

describe('grants', () => {
  it('lists every granted pair once, sorted, with the grant policy merged over the global one', () => {
    const perms = permissionsFor(cfg, 'alice');
    expect(perms.map((p) => `${p.account}@${p.asset}`)).toEqual(['ops@db1', 'deploy@web1', 'ops@web1', 'deploy@web2']);
    expect(perms.find((p) => p.asset === 'web1' && p.account === 'deploy')!.policy.idleTimeoutMs).toBe(300_000);
    expect(perms.find((p) => p.account === 'ops' && p.asset === 'web1')!.policy.idleTimeoutMs).toBe(600_000);
    expect(permissionsFor(cfg, 'bob').map((p) => p.asset)).toEqual(['db1']);
    expect(permissionsFor(cfg, 'mallory').map((p) => p.asset)).toEqual(['db1']);
  });

  it('resolves a unique asset, an explicit account, or refuses clearly', () => {
    const perms = permissionsFor(cfg, 'alice');
    expect(resolveTarget(perms, parseLoginName('alice@web2'))).toMatchObject({ kind: 'target', permission: { asset: 'web2', account: 'deploy' } });
    expect(resolveTarget(perms, parseLoginName('alice@ops@web1'))).toMatchObject({ kind: 'target', permission: { account: 'ops' } });
    const ambiguous = resolveTarget(perms, parseLoginName('alice@web1'));
    expect(ambiguous).toMatchObject({ kind: 'denied' });
    expect((ambiguous as { message: string }).message).toContain('deploy, ops');
    expect(resolveTarget(perms, parseLoginName('alice@web9'))).toEqual({ kind: 'denied', message: 'no grant for asset "web9"' });
    expect(resolveTarget(perms, parseLoginName('alice@ops@web2'))).toMatchObject({ kind: 'denied' });
    expect(resolveTarget(perms, parseLoginName('alice'))).toMatchObject({ kind: 'menu' });
    expect(resolveTarget([], parseLoginName('alice'))).toMatchObject({ kind: 'denied' });
  });

  it('escapes control characters of requested names in messages', () => {
    const res = resolveTarget(permissionsFor(cfg, 'alice'), parseLoginName('alice@web\x1b[2J'));
    expect((res as { message: string }).message).toBe('no grant for asset "web\\x1b[2J"');
  });
});
