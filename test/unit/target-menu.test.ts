import { describe, expect, it } from 'vitest';
import type { Permission } from '../../src/grants.js';
import { LineReader, TargetMenu } from '../../src/target-menu.js';
import { compileTransferPolicy } from '../../src/transfers/transfer-policy.js';

const policy = { idleTimeoutMs: 1, idleWarningMs: 1, idleActivity: 'input' as const, maxDurationWarningMs: 1 };
const transfer = compileTransferPolicy({ upload: true, download: true, delete: true, deny: [] });
const perm = (asset: string, account: string): Permission => ({ asset, account, host: `${asset}.lan`, port: 22, username: account, policy, commands: [], transfer });
const perms = [perm('db1', 'ops'), perm('web1', 'deploy'), perm('web1', 'ops'), perm('web2', 'deploy')];

describe('target menu', () => {
  it('lists the grants with numbers and picks by number', () => {
    const menu = new TargetMenu('alice', perms);
    const first = menu.start();
    expect(first.kind).toBe('show');
    expect(first.text).toContain('1  db1');
    expect(first.text).toContain('4  web2');
    const pick = menu.line('3');
    expect(pick).toMatchObject({ kind: 'pick', permission: { asset: 'web1', account: 'ops' } });
  });

  it('filters by text, renumbering, and connects at once on a single match', () => {
    const menu = new TargetMenu('alice', perms);
    menu.start();
    const filtered = menu.line('web1');
    expect(filtered.kind).toBe('show');
    expect(filtered.text).toContain('2 matches');
    expect(menu.line('2')).toMatchObject({ kind: 'pick', permission: { asset: 'web1', account: 'ops' } });
    const other = new TargetMenu('alice', perms);
    expect(other.line('web2')).toMatchObject({ kind: 'pick', permission: { asset: 'web2' } });
  });

  it('quits on q, reports unknown numbers and empty filters', () => {
    const menu = new TargetMenu('alice', perms);
    expect(menu.line('q').kind).toBe('quit');
    expect(menu.line('9').text).toContain('No entry 9');
    expect(menu.line('zzz').text).toContain('Nothing matches "zzz"');
    expect(menu.line('x\x1b]0;pwned\x07').text).toContain('\\x1b]0;pwned\\x07');
  });

  it('picks a single grant without showing the menu', () => {
    expect(new TargetMenu('alice', [perm('web1', 'deploy')]).start()).toMatchObject({ kind: 'pick' });
  });
});

describe('line reader', () => {
  it('echoes, handles backspace, swallows escape sequences and emits lines', () => {
    let echoed = '';
    const lines: string[] = [];
    let cancelled = 0;
    const r = new LineReader((t) => (echoed += t), (l) => lines.push(l), () => cancelled++);
    r.feed(Buffer.from('wex\x7fb\x1b[A1\r'));
    expect(lines).toEqual(['web1']);
    expect(echoed).toBe('wex\b \bb1\r\n');
    r.feed(Buffer.from('\x03'));
    expect(cancelled).toBe(1);
  });
});
