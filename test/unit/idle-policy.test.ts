import { describe, expect, it } from 'vitest';
import { decideDuration, decideIdle } from '../../src/idle-policy.js';

const rules = { idleTimeoutMs: 30 * 60_000, idleWarningMs: 60_000 };
const t0 = 1_000_000;

describe('idle decisions', () => {
  it('asks to look again at timeout minus warning while active', () => {
    expect(decideIdle(t0 + 5_000, t0, rules)).toEqual({ kind: 'check', at: t0 + 29 * 60_000 });
  });

  it('warns at timeout minus warning, with the time left, and checks again at the timeout', () => {
    expect(decideIdle(t0 + 29 * 60_000, t0, rules)).toEqual({ kind: 'warn', idleMs: 29 * 60_000, remainingMs: 60_000, at: t0 + 30 * 60_000 });
  });

  it('times out at the timeout', () => {
    expect(decideIdle(t0 + 30 * 60_000, t0, rules)).toEqual({ kind: 'timeout', idleMs: 30 * 60_000 });
  });

  it('re-arms from the new activity when the user typed in between (lazy re-check)', () => {
    const typedAt = t0 + 29 * 60_000 + 10_000;
    expect(decideIdle(t0 + 30 * 60_000, typedAt, rules)).toEqual({ kind: 'check', at: typedAt + 29 * 60_000 });
  });

  it('without a warning, goes straight from check to timeout', () => {
    const r = { idleTimeoutMs: 3_000, idleWarningMs: 0 };
    expect(decideIdle(t0 + 1, t0, r)).toEqual({ kind: 'check', at: t0 + 3_000 });
    expect(decideIdle(t0 + 3_000, t0, r).kind).toBe('timeout');
  });

  it('a warning longer than the timeout warns from the start', () => {
    expect(decideIdle(t0, t0, { idleTimeoutMs: 3_000, idleWarningMs: 5_000 })).toMatchObject({ kind: 'warn', remainingMs: 3_000 });
  });
});

describe('max duration decisions', () => {
  const d = { maxDurationMs: 8 * 3_600_000, warningMs: 5 * 60_000 };
  it('checks at the warning time, warns once, then ends', () => {
    expect(decideDuration(t0, t0, d, false)).toEqual({ kind: 'check', at: t0 + d.maxDurationMs - d.warningMs });
    expect(decideDuration(t0 + d.maxDurationMs - d.warningMs, t0, d, false)).toEqual({ kind: 'warn', remainingMs: d.warningMs, at: t0 + d.maxDurationMs });
    expect(decideDuration(t0 + d.maxDurationMs - 1, t0, d, true)).toEqual({ kind: 'check', at: t0 + d.maxDurationMs });
    expect(decideDuration(t0 + d.maxDurationMs, t0, d, true)).toEqual({ kind: 'end' });
  });
});
