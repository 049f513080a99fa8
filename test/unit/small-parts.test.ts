import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { endMessage } from '../../src/errors.js';
import { newSessionId } from '../../src/ids.js';
import { hashPassword, verifyPassword } from '../../src/password.js';
import { printable } from '../../src/text.js';

describe('durations', () => {
  it('parses the documented forms', () => {
    expect(parseDuration('4s')).toBe(4_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('8h')).toBe(28_800_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration(5)).toBe(5_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
    expect(formatDuration(1_800_000)).toBe('30m');
    expect(formatDuration(3_000)).toBe('3s');
  });
});

describe('printable', () => {
  it('escapes control and bidi characters and bounds the length', () => {
    expect(printable('a\nb\x1b[31m\u202e')).toBe('a\\x0ab\\x1b[31m\\x202e');
    expect(printable('x'.repeat(10), 4)).toBe('xxxx…');
  });
});

describe('session ids', () => {
  it('are time-sortable and unique', () => {
    const ids = Array.from({ length: 1000 }, () => newSessionId());
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
    expect(newSessionId(1_000)).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});

describe('passwords', () => {
  it('verifies the right password only, and never an unknown user', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsf', hash)).toBe(false);
    expect(await verifyPassword('correct horse', undefined)).toBe(false);
  });
});

describe('end messages', () => {
  it('says who killed a session and why', () => {
    expect(endMessage({ reason: 'admin_kill', by: 'alice', detail: 'maintenance' })).toBe('Terminated by admin alice: maintenance');
    expect(endMessage({ reason: 'idle_timeout', detail: '30m' })).toBe('Disconnected after 30m idle');
  });

  it("shows an admin's name and reason as text in the user's terminal, escapes and all", () => {
    // A reason from the API or `warden kill --reason` must not clear the screen or retitle the window.
    const msg = endMessage({ reason: 'admin_kill', by: 'eve\x1b]0;pwned\x07', detail: 'bye\x1b[2J\r\nfake prompt$ ' });
    expect(msg).toBe('Terminated by admin eve\\x1b]0;pwned\\x07: bye\\x1b[2J\\x0d\\x0afake prompt$ ');
    expect(msg).not.toMatch(/[\x00-\x1f]/);
  });
});

describe('ssh2 native crypto', () => {
  it('is built (package.json allowScripts lets its install script run)', async () => {
    const { nativeCryptoAvailable } = await import('../../src/native-check.js');
    expect(nativeCryptoAvailable()).toBe(true);
  });
});
