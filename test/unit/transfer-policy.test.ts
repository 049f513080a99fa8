/** Transfer rules: the glob dialect of `deny`, which switch each operation needs, and config. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { compileTransferPolicy, globToRegExp, resolvePath } from '../../src/transfers/transfer-policy.js';

describe('deny globs', () => {
  it('* and ? stay within a directory, ** crosses them, /** also matches the directory', () => {
    const m = (glob: string, path: string) => globToRegExp(glob).test(path);
    expect(m('*.key', 'id.key')).toBe(true);
    expect(m('*.key', 'a/id.key')).toBe(false);
    expect(m('/etc/**', '/etc')).toBe(true);
    expect(m('/etc/**', '/etc/ssh/sshd_config')).toBe(true);
    expect(m('/etc/**', '/etcetera')).toBe(false);
    expect(m('/srv/*/secret', '/srv/a/secret')).toBe(true);
    expect(m('/srv/*/secret', '/srv/a/b/secret')).toBe(false);
    expect(m('/srv/**/secret', '/srv/secret')).toBe(true);
    expect(m('/srv/**/secret', '/srv/a/b/secret')).toBe(true);
    expect(m('file?.txt', 'file1.txt')).toBe(true);
    expect(m('a.(b)+[c]', 'a.(b)+[c]')).toBe(true);
    expect(m('a.b', 'axb')).toBe(false);
  });

  it('a pattern without a slash matches the file name anywhere; with one, the whole path', () => {
    const p = compileTransferPolicy({ upload: true, download: true, delete: true, deny: ['*.key', '/etc/**'] });
    expect(p.check('download', ['/home/u/.ssh/id.key'])?.rule).toBe('deny *.key');
    expect(p.check('download', ['/etc/passwd'])?.rule).toBe('deny /etc/**');
    expect(p.check('rename', ['/tmp/a', '/etc/a'])?.rule).toBe('deny /etc/**');
    expect(p.check('download', ['/home/u/etc/passwd'])).toBeUndefined();
    expect(p.permissive).toBe(false);
  });

  it('each switch refuses its operations, and only those', () => {
    const noUp = compileTransferPolicy({ upload: false, download: true, delete: true, deny: [] });
    for (const op of ['upload', 'mkdir', 'setstat', 'symlink', 'link'] as const) expect(noUp.check(op, ['/x'])?.rule).toBe('upload');
    for (const op of ['download', 'delete', 'rename', 'rmdir', 'list', 'stat'] as const) expect(noUp.check(op, ['/x'])).toBeUndefined();
    const noDel = compileTransferPolicy({ upload: true, download: true, delete: false, deny: [] });
    for (const op of ['delete', 'rmdir', 'rename'] as const) expect(noDel.check(op, ['/x'])?.rule).toBe('delete');
    expect(compileTransferPolicy({ upload: true, download: false, delete: true, deny: [] }).check('download', ['/x'])?.rule).toBe('download');
    expect(compileTransferPolicy({ upload: true, download: true, delete: true, deny: [] }).permissive).toBe(true);
  });

  it('paths are resolved lexically against the working directory', () => {
    expect(resolvePath('../../etc/passwd', '/home/u')).toBe('/etc/passwd');
    expect(resolvePath('/etc/../etc//passwd/', undefined)).toBe('/etc/passwd');
    expect(resolvePath('a/./b', '/srv')).toBe('/srv/a/b');
    expect(resolvePath('', '/srv')).toBe('/srv');
  });
});

describe('transfer config', () => {
  const base = (extra: string, grant = '') => `
users: { alice: { keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a"] } }
assets: { web1: { host: 10.0.0.5, hostKey: tofu } }
accounts: { deploy: { username: deploy, privateKeyFile: ./k } }
grants:
  - { users: [alice], assets: [web1], accounts: [deploy]${grant} }
${extra}`;

  it('grant rules override the top-level ones; sizes take units; keep defaults under dataDir', () => {
    const cfg = parseConfig(base('transfer: { download: false, maxFileSize: 1GiB }', ", transfer: { download: true, deny: ['*.key'] }"), '/etc/warden/w.yaml');
    expect(cfg.transfer.keep).toEqual({ enabled: false, maxFileSize: 50 * 1024 ** 2, dir: '/etc/warden/data/transfers/kept' });
    const p = cfg.transferPolicies[0]!;
    expect(p.maxFileSize).toBe(1024 ** 3);
    expect(p.check('download', ['/x'])).toBeUndefined();
    expect(p.check('download', ['/x.key'])?.rule).toBe('deny *.key');
  });

  it('names the failing key', () => {
    const err = (text: string) => {
      try {
        parseConfig(text, '/w.yaml');
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(err(base('', ', transfer: { maxFileSize: 12 parsecs }'))).toMatch(/grants\[0\]\.transfer\.maxFileSize: "12 parsecs" is not a size/);
    expect(err(base('', ', transfer: { delete: sometimes }'))).toMatch(/grants\[0\]\.transfer\.delete/);
    expect(err(base('transfer: { audit: false }', ', transfer: { upload: false }'))).toMatch(/grants\[0\]\.transfer: restricts transfers, which needs transfer.audit: true/);
  });
});
