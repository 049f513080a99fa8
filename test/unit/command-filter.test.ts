import { describe, expect, it } from 'vitest';
import { compileRules, DEFAULT_DENY_MESSAGE } from '../../src/commands/command-filter.js';

describe('compileRules', () => {
  const filter = compileRules([
    { warn: '^sudo\\b', message: 'sudo is audited' },
    { deny: '(^|[;&|]\\s*)rm\\s+-rf\\s+/(\\s|$)', message: 'not on my watch' },
    { warn: 'shutdown' },
    { deny: '\\bmkfs' },
  ]);

  it('allows a line no rule matches', () => {
    expect(filter.check('ls -la')).toEqual({ action: 'allow' });
  });

  it('denies with the rule message and identifies the rule', () => {
    expect(filter.check('ls; rm -rf / ')).toEqual({
      action: 'deny',
      message: 'not on my watch',
      rule: { index: 1, pattern: '(^|[;&|]\\s*)rm\\s+-rf\\s+/(\\s|$)' },
    });
  });

  it('uses a default message for a deny rule without one', () => {
    expect(filter.check('mkfs.ext4 /dev/sdb')).toMatchObject({ action: 'deny', message: DEFAULT_DENY_MESSAGE, rule: { index: 3 } });
  });

  it('lets a deny win over an earlier warn on the same line', () => {
    expect(filter.check('sudo mkfs /dev/sda')).toMatchObject({ action: 'deny', rule: { index: 3 } });
  });

  it('warns with the first matching warn rule', () => {
    expect(filter.check('sudo shutdown -h now')).toEqual({
      action: 'warn',
      message: 'sudo is audited',
      rule: { index: 0, pattern: '^sudo\\b' },
    });
    expect(filter.check('shutdown -r')).toEqual({ action: 'warn', rule: { index: 2, pattern: 'shutdown' } });
  });

  it('searches anywhere unless anchored', () => {
    expect(filter.check('echo rm -rf /tmp/x').action).toBe('allow');
    expect(filter.check('echo sudo').action).toBe('allow');
  });

  it('allows everything with no rules', () => {
    expect(compileRules([]).check('rm -rf /')).toEqual({ action: 'allow' });
  });

  it('names the index of an invalid regex', () => {
    expect(() => compileRules([{ deny: 'ok' }, { warn: '(' }])).toThrow(/^rule 1 \(warn "\("\): Invalid regular expression/);
  });

  it('rejects a rule that is neither or both deny and warn', () => {
    expect(() => compileRules([{ deny: 'a' }, { message: 'x' } as never])).toThrow(/^rule 1: needs exactly one/);
    expect(() => compileRules([{ deny: 'a', warn: 'b' } as never])).toThrow(/^rule 0: needs exactly one/);
    expect(() => compileRules([{ deny: 42 } as never])).toThrow(/^rule 0: pattern must be a string/);
  });
});
