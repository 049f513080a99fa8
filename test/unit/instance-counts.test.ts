import { describe, expect, it } from 'vitest';
import { InstanceCounts, parseCounts } from '../../src/instance-counts.js';

describe('instance counts', () => {
  it('counts the audit events it knows, sessions ended by reason, and nothing else', () => {
    const c = new InstanceCounts();
    for (const e of [
      { event: 'auth_success', user: 'alice' },
      { event: 'auth_failure', user: 'mallory' },
      { event: 'auth_failure', user: 'mallory' },
      { event: 'denied', user: 'alice' },
      { event: 'command_denied' },
      { event: 'session_end', reason: 'admin_kill', by: 'carol' },
      { event: 'session_end', reason: 'client_closed' },
      { event: 'session_end', reason: 'client_closed' },
      // Not counted: unknown events, a reason outside the closed set, a non-event.
      { event: 'made_up' },
      { event: 'session_end', reason: '__proto__' },
      { msg: 'no event' },
    ]) c.onAudit(e);
    const snap = parseCounts(c.serialize());
    expect(snap).toEqual({ logins: 1, auth_failures: 2, refused: 1, commands_denied: 1, transfers_denied: 0, hostkey_mismatches: 0, ended: 4, endedBy: { admin_kill: 1, client_closed: 2 } });
  });

  it('reads what another version or a stranger wrote as zeros, never as new fields', () => {
    const zero = parseCounts('');
    expect(zero.logins).toBe(0);
    expect(zero.endedBy).toEqual({});
    for (const text of ['not json', 'null', '42', '"x"', '[]', '{"endedBy":null}']) expect(parseCounts(text)).toEqual(zero);
    const odd = parseCounts(JSON.stringify({ logins: 3, auth_failures: -1, refused: 1.5, extra: 9, endedBy: { admin_kill: 2, nonsense: 4, idle_timeout: 'x' } }));
    expect(odd).toEqual({ ...zero, logins: 3, endedBy: { admin_kill: 2 } });
  });
});
