import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../machines/session.types.js';
import type { SessionPolicy } from '../../src/grants.js';
import { SessionTimers } from '../../src/session-timers.js';

const policy: SessionPolicy = { idleTimeoutMs: 30 * 60_000, idleWarningMs: 60_000, idleActivity: 'input', maxDurationMs: 8 * 3_600_000, maxDurationWarningMs: 5 * 60_000 };

function setup() {
  const scheduled: Array<{ kind: string; at: number }> = [];
  const events: SessionEvent[] = [];
  const counted: string[] = [];
  const cancelled: string[] = [];
  let lastActivity = 0;
  const timers = new SessionTimers(
    { id: 'S', lastActivity: () => lastActivity, send: (e) => events.push(e) },
    { schedule: (kind, _id, at) => scheduled.push({ kind, at }), cancel: (id) => cancelled.push(id) },
    (c) => counted.push(c),
  );
  return { timers, scheduled, events, counted, cancelled, setActivity: (t: number) => (lastActivity = t) };
}

describe('session timers', () => {
  it('arming schedules the first idle check at timeout minus warning, and the duration check', () => {
    const h = setup();
    h.timers.arm(policy, 0);
    expect(h.scheduled).toEqual([
      { kind: 'idle', at: 29 * 60_000 },
      { kind: 'duration', at: 8 * 3_600_000 - 5 * 60_000 },
    ]);
    h.timers.arm(policy, 5); // idempotent
    expect(h.scheduled).toHaveLength(2);
  });

  it('warns, then times out unless there was activity in between', () => {
    const h = setup();
    h.timers.arm(policy, 0);
    h.timers.idleCheck(29 * 60_000);
    expect(h.events).toEqual([{ type: 'IDLE_WARNING', idleMs: 29 * 60_000, remainingMs: 60_000 }]);
    expect(h.scheduled.at(-1)).toEqual({ kind: 'idle', at: 30 * 60_000 });
    h.timers.idleCheck(30 * 60_000);
    expect(h.events.at(-1)).toEqual({ type: 'END', reason: 'idle_timeout', detail: '30m' });
    expect(h.counted).toEqual(['idle_warnings', 'idle_timeouts']);
  });

  it('a key after the warning moves the next check instead of ending', () => {
    const h = setup();
    h.timers.arm(policy, 0);
    h.timers.idleCheck(29 * 60_000);
    h.setActivity(29 * 60_000 + 10_000);
    h.timers.idleCheck(30 * 60_000);
    expect(h.events.filter((e) => e.type === 'END')).toEqual([]);
    expect(h.scheduled.at(-1)).toEqual({ kind: 'idle', at: 29 * 60_000 + 10_000 + 29 * 60_000 });
  });

  it('warns once before the maximum duration, then ends', () => {
    const h = setup();
    h.timers.arm(policy, 0);
    h.timers.durationCheck(8 * 3_600_000 - 5 * 60_000);
    expect(h.events).toEqual([{ type: 'DURATION_WARNING', remainingMs: 5 * 60_000 }]);
    h.timers.durationCheck(8 * 3_600_000);
    expect(h.events.at(-1)).toEqual({ type: 'END', reason: 'max_duration', detail: '8h' });
  });

  it('does nothing without a scheduler (no control queue)', () => {
    const events: SessionEvent[] = [];
    const t = new SessionTimers({ id: 'S', lastActivity: () => 0, send: (e) => events.push(e) }, undefined, () => {});
    t.arm(policy, 0);
    t.idleCheck(31 * 60_000);
    expect(events).toEqual([]);
  });

  it('disarm at the end cancels the pending checks once, and a late check schedules nothing', () => {
    const h = setup();
    h.timers.disarm(); // never armed: nothing to cancel
    expect(h.cancelled).toEqual([]);
    h.timers.arm(policy, 0);
    h.timers.disarm();
    h.timers.disarm();
    expect(h.cancelled).toEqual(['S']);
    const before = h.scheduled.length;
    h.timers.idleCheck(29 * 60_000);
    h.timers.durationCheck(8 * 3_600_000);
    expect(h.scheduled).toHaveLength(before);
    expect(h.events).toEqual([]);
  });
});
