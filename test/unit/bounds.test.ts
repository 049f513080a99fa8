/**
 * The pure parts of Warden's bounds: pre-auth admission (OpenSSH's MaxStartups semantics),
 * screen clamping and window-change coalescing, the env allow-list, and refusal bookkeeping.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Admission, parseMaxStartups, REFUSED_BUSY, REFUSED_PER_SOURCE, shouldDrop, sourceOf } from '../../src/admission.js';
import { clampScreen, ResizeCoalescer } from '../../src/screen-size.js';
import { EnvPolicy, MAX_ENV_VARS } from '../../src/env-policy.js';
import { SessionRefusals } from '../../src/session-refusals.js';
import type { Logger } from '../../src/logger.js';

describe('MaxStartups', () => {
  it('parses start:rate:full and a single number, and rejects nonsense', () => {
    expect(parseMaxStartups('10:30:100')).toEqual({ start: 10, rate: 30, full: 100 });
    expect(parseMaxStartups('20')).toEqual({ start: 20, rate: 100, full: 20 });
    for (const bad of ['', '10:30', '10:130:100', '100:30:10', '0', 'a:b:c']) expect(parseMaxStartups(bad)).toBeUndefined();
  });

  it('drops nothing below start, rate% at start, rising linearly to everything at full', () => {
    const m = { start: 10, rate: 30, full: 100 };
    expect(shouldDrop(9, m, 0)).toBe(false);
    expect(shouldDrop(10, m, 29.9)).toBe(true);
    expect(shouldDrop(10, m, 30)).toBe(false);
    // halfway between start and full: 30 + 70 * 45/90 = 65%
    expect(shouldDrop(55, m, 64.9)).toBe(true);
    expect(shouldDrop(55, m, 65)).toBe(false);
    expect(shouldDrop(100, m, 99.9)).toBe(true);
    expect(shouldDrop(100, m, 0)).toBe(true);
  });

  it('caps one source below start, so other addresses are never dropped by it', () => {
    const a = new Admission({ maxStartups: { start: 10, rate: 30, full: 100 }, perSource: 5, random: () => 0 });
    const held = Array.from({ length: 5 }, () => a.admit('127.0.0.1'));
    expect(held.every((h) => h.ok)).toBe(true);
    expect(a.admit('127.0.0.1')).toEqual({ ok: false, why: REFUSED_PER_SOURCE });
    expect(a.admit('127.0.0.2').ok).toBe(true);
    expect(a.count).toBe(6);
    // Releasing (authenticated or closed) frees the slot, once.
    const first = held[0]!;
    if (first.ok) {
      first.release();
      first.release();
    }
    expect(a.count).toBe(5);
    expect(a.admit('127.0.0.1').ok).toBe(true);
  });

  it('random early drop past start uses the roll; full refuses everyone', () => {
    let roll = 0.99;
    const a = new Admission({ maxStartups: { start: 2, rate: 50, full: 4 }, perSource: 'none', random: () => roll });
    expect([a.admit('a'), a.admit('b'), a.admit('c')].map((v) => v.ok)).toEqual([true, true, true]);
    roll = 0.1;
    expect(a.admit('d')).toEqual({ ok: false, why: REFUSED_BUSY });
    roll = 0.99;
    expect(a.admit('e').ok).toBe(true);
    expect(a.admit('f')).toEqual({ ok: false, why: REFUSED_BUSY });
  });

  it('counts an IPv4 peer on a dual-stack socket as its IPv4 address', () => {
    expect(sourceOf('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(sourceOf('::1')).toBe('::1');
  });
});

describe('screen size', () => {
  it('clamps what Warden models, columns first kept, cells bounded', () => {
    expect(clampScreen(80, 24)).toEqual({ cols: 80, rows: 24 });
    expect(clampScreen(65535, 65535)).toEqual({ cols: 1000, rows: 250 });
    expect(clampScreen(300, 65535)).toEqual({ cols: 300, rows: 833 });
    expect(clampScreen(0, 0)).toEqual({ cols: 80, rows: 24 });
    expect(clampScreen(NaN, -3)).toEqual({ cols: 80, rows: 24 });
  });

  describe('window-change coalescing', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('applies the first change at once and then at most one per period, the latest winning', () => {
      const applied: number[] = [];
      const c = new ResizeCoalescer<number>((n) => applied.push(n), 50);
      c.push(1);
      for (let i = 2; i <= 10_000; i++) c.push(i);
      expect(applied).toEqual([1]);
      vi.advanceTimersByTime(50);
      expect(applied).toEqual([1, 10_000]);
      vi.advanceTimersByTime(500);
      expect(applied).toEqual([1, 10_000]);
      c.push(7);
      expect(applied).toEqual([1, 10_000, 7]);
      c.push(8);
      c.dispose();
      vi.advanceTimersByTime(500);
      expect(applied).toEqual([1, 10_000, 7]);
    });
  });
});

describe('env allow-list', () => {
  it('passes exact names and prefixes, bounds count and size', () => {
    const p = new EnvPolicy(['LANG', 'LC_*', 'GIT_PROTOCOL']);
    expect(p.judge('LANG', 'C.UTF-8', 0)).toBe('accept');
    expect(p.judge('LC_ALL', 'C', 0)).toBe('accept');
    expect(p.judge('GIT_PROTOCOL', 'version=2', 0)).toBe('accept');
    expect(p.judge('LD_PRELOAD', '/x.so', 0)).toBe('not_allowed');
    expect(p.judge('LANGUAGE', 'de', 0)).toBe('not_allowed');
    expect(p.judge('LANG', 'x'.repeat(2000), 0)).toBe('too_long');
    expect(p.judge('LANG', 'C', MAX_ENV_VARS)).toBe('too_many');
  });
});

describe('refusals', () => {
  function fakeLogger(sink: Array<Record<string, unknown>>): Logger {
    const rec = (level: string) => (obj: Record<string, unknown>, msg?: string) => sink.push({ level, ...obj, msg });
    return { info: rec('info'), warn: rec('warn'), debug: rec('debug') } as unknown as Logger;
  }

  it('one audit event per refusal up to a cap, one line per kind, lines kept until a channel can show them', () => {
    const audit: Array<Record<string, unknown>> = [];
    const said: string[] = [];
    let channelOpen = false;
    const r = new SessionRefusals({ id: 'S', audit: fakeLogger(audit), log: fakeLogger([]), say: (t) => (channelOpen ? (said.push(t), true) : false) });
    expect(r.prohibited('X11 forwarding')).toBe('X11 forwarding is administratively prohibited on Warden');
    r.prohibited('X11 forwarding');
    expect(audit.filter((e) => e.event === 'forward_refused')).toHaveLength(2);
    const shown: string[] = [];
    r.channelStarted((t) => shown.push(t));
    expect(shown).toEqual(['X11 forwarding is administratively prohibited on Warden.\r\n']);
    channelOpen = true;
    r.prohibited('agent forwarding');
    r.prohibited('agent forwarding');
    expect(said).toEqual(['agent forwarding is administratively prohibited on Warden.']);
    for (let i = 0; i < 100; i++) r.prohibited('port forwarding', `10.0.0.1:${i}`);
    expect(audit.length).toBe(33);
    expect(audit.at(-1)).toMatchObject({ event: 'refusals_suppressed' });
  });
});
