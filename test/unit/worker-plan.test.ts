/** `warden start --workers N`: the count and its validation, per-worker names, restart backoff. */
import { describe, expect, it } from 'vitest';
import { RestartBackoff, slotEnv, slotFromEnv, workerCount, workerFile, workerInstanceId } from '../../src/cluster/worker-plan.js';
import { configError } from '../helpers/config-error.js';
import { parseConfig } from '../../src/config.js';

const minimal = 'users: {}\nassets: {}\naccounts: {}\ngrants: []\n';

describe('worker count', () => {
  it('defaults to the cores (clamped to 1..64); the config\'s value next; the flag wins', () => {
    expect(workerCount(undefined, undefined, 2)).toBe(2);
    expect(workerCount(undefined, undefined, 0)).toBe(1);
    expect(workerCount(undefined, undefined, 200)).toBe(64);
    expect(workerCount(undefined, 3, 8)).toBe(3);
    expect(workerCount('1', 3, 8)).toBe(1);
    expect(workerCount('64', undefined, 8)).toBe(64);
  });

  it('refuses a flag that is not a whole number from 1 to 64, saying so', () => {
    for (const bad of ['0', '65', '-1', '2.5', 'two', '', ' 2', '1e1', '0x2']) {
      expect(() => workerCount(bad, undefined, 2), bad).toThrow(/--workers .*whole number from 1 to 64/);
    }
  });

  it('takes `workers:` in the config, validated with its path', () => {
    expect(parseConfig(`workers: 4\n${minimal}`, '/etc/warden/warden.yaml').workers).toBe(4);
    expect(parseConfig(minimal, '/etc/warden/warden.yaml').workers).toBeUndefined();
    for (const bad of ['0', '65', '1.5', '"2"']) expect(configError(`workers: ${bad}\n${minimal}`), bad).toMatch(/workers/);
  });
});

describe('a worker\'s own names', () => {
  const slot = { index: 2, count: 4, base: 'bastion1' };

  it('instance id and files carry the worker\'s index', () => {
    expect(workerInstanceId(slot)).toBe('bastion1-w2');
    expect(workerFile('/var/lib/warden/audit.jsonl', slot)).toBe('/var/lib/warden/audit-w2.jsonl');
    expect(workerFile('/var/lib/warden/journal.jsonl', slot)).toBe('/var/lib/warden/journal-w2.jsonl');
    expect(workerFile('/var/log/warden-audit', slot)).toBe('/var/log/warden-audit-w2');
  });

  it('travels to the worker in its environment, and nothing else passes for one', () => {
    expect(slotFromEnv(slotEnv(slot))).toEqual(slot);
    expect(() => slotFromEnv({})).toThrow(/not started as a worker/);
    expect(() => slotFromEnv({ ...slotEnv(slot), WARDEN_WORKER: '5' })).toThrow(/not started as a worker/);
    expect(() => slotFromEnv({ ...slotEnv(slot), WARDEN_WORKER_BASE: 'a b' })).toThrow(/not started as a worker/);
  });
});

describe('restart backoff', () => {
  it('doubles for each quick death up to the cap, and starts over after a stable run', () => {
    const b = new RestartBackoff({ firstMs: 500, maxMs: 30_000, stableMs: 30_000 });
    expect(b.next(60_000)).toBe(500);
    expect([b.next(100), b.next(100), b.next(100), b.next(100)]).toEqual([1_000, 2_000, 4_000, 8_000]);
    for (let i = 0; i < 50; i++) b.next(10);
    expect(b.next(10)).toBe(30_000);
    expect(b.next(30_000)).toBe(500);
  });
});
