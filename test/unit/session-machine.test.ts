import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { sessionMachine, type ConnectInput } from '../../machines/session.machine.js';
import type { SessionEnd, SessionState } from '../../machines/session.types.js';

interface Harness {
  actor: ReturnType<typeof createActor<typeof sessionMachine>>;
  clock: SimulatedClock;
  finalised: SessionEnd[];
  states: SessionState[];
  idleWarnings: Array<{ idleMs: number; remainingMs: number }>;
  menus: number;
  connect: { resolve(): void; reject(e: unknown): void; aborted(): boolean; calls: ConnectInput[] };
}

function start(opts: { maxAuthTries?: number } = {}): Harness {
  const clock = new SimulatedClock();
  const finalised: SessionEnd[] = [];
  const states: SessionState[] = [];
  const idleWarnings: Harness['idleWarnings'] = [];
  let menus = 0;
  const pending: Array<{ resolve(): void; reject(e: unknown): void; signal: AbortSignal }> = [];
  const calls: ConnectInput[] = [];
  const machine = sessionMachine.provide({
    actions: {
      recordState: (_, p) => states.push(p.state),
      startSelection: () => menus++,
      warnIdle: (_, p) => idleWarnings.push(p),
      finalise: (_, end) => finalised.push(end),
    },
    actors: {
      connectTarget: fromPromise<void, ConnectInput>(
        ({ input, signal }) =>
          new Promise<void>((resolve, reject) => {
            calls.push(input);
            pending.push({ resolve, reject, signal });
          }),
      ),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { sessionId: 'S1', loginGraceMs: 60_000, connectTimeoutMs: 10_000, maxAuthTries: opts.maxAuthTries ?? 6 },
  });
  actor.start();
  return {
    actor,
    clock,
    finalised,
    states,
    idleWarnings,
    get menus() {
      return menus;
    },
    connect: {
      resolve: () => pending.shift()!.resolve(),
      reject: (e) => pending.shift()!.reject(e),
      aborted: () => pending.some((p) => p.signal.aborted),
      calls,
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));
const target = { asset: 'web1', account: 'deploy' };

describe('session machine', () => {
  it('starts authenticating', () => {
    const h = start();
    expect(h.actor.getSnapshot().value).toBe('authenticating');
    expect(h.finalised).toEqual([]);
  });

  it('goes straight to connecting when the login names the target, then proxying', async () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice', target });
    expect(h.actor.getSnapshot().value).toBe('connecting');
    expect(h.connect.calls).toEqual([{ sessionId: 'S1', target }]);
    h.connect.resolve();
    await flush();
    expect(h.actor.getSnapshot().value).toBe('proxying');
    expect(h.states).toEqual(['connecting', 'proxying']);
  });

  it('shows the menu when no target was named, and connects on selection', async () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice' });
    expect(h.actor.getSnapshot().value).toBe('selecting');
    expect(h.menus).toBe(1);
    h.actor.send({ type: 'TARGET_SELECTED', target });
    expect(h.actor.getSnapshot().value).toBe('connecting');
    expect(h.actor.getSnapshot().context.target).toEqual(target);
    expect(h.actor.getSnapshot().context.user).toBe('alice');
  });

  it('counts auth failures and ends with auth_failed at the limit', () => {
    const h = start({ maxAuthTries: 3 });
    h.actor.send({ type: 'AUTH_FAILED' });
    h.actor.send({ type: 'AUTH_FAILED' });
    expect(h.actor.getSnapshot().value).toBe('authenticating');
    expect(h.actor.getSnapshot().context.authFailures).toBe(2);
    h.actor.send({ type: 'AUTH_FAILED' });
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.finalised).toEqual([{ reason: 'auth_failed', detail: 'too many authentication failures', by: undefined }]);
  });

  it('ends with auth_timeout when the login grace time passes', () => {
    const h = start();
    h.clock.increment(59_999);
    expect(h.actor.getSnapshot().value).toBe('authenticating');
    h.clock.increment(1);
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.finalised[0]!.reason).toBe('auth_timeout');
  });

  it('cancels the login grace timer once authenticated', () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice' });
    h.clock.increment(120_000);
    expect(h.actor.getSnapshot().value).toBe('selecting');
    expect(h.finalised).toEqual([]);
  });

  it('maps a connect failure to its reason', async () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice', target });
    h.connect.reject({ reason: 'hostkey_mismatch', detail: 'fingerprints differ' });
    await flush();
    expect(h.finalised).toEqual([{ reason: 'hostkey_mismatch', detail: 'fingerprints differ', by: undefined }]);
  });

  it('maps an unexpected connect error to reason error', async () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice', target });
    h.connect.reject(new Error('boom'));
    await flush();
    expect(h.finalised[0]!.reason).toBe('error');
    expect(h.finalised[0]!.detail).toContain('boom');
  });

  it('ends with target_unreachable at the connect timeout and aborts the dial', () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice', target });
    h.clock.increment(10_000);
    expect(h.finalised[0]!.reason).toBe('target_unreachable');
    expect(h.connect.aborted()).toBe(true);
  });

  it('enters idle on a warning and returns to proxying on activity', async () => {
    const h = start();
    h.actor.send({ type: 'AUTHENTICATED', user: 'alice', target });
    h.connect.resolve();
    await flush();
    h.actor.send({ type: 'ACTIVITY' });
    expect(h.actor.getSnapshot().value).toBe('proxying');
    h.actor.send({ type: 'IDLE_WARNING', idleMs: 29 * 60_000, remainingMs: 60_000 });
    expect(h.actor.getSnapshot().value).toBe('idle');
    expect(h.idleWarnings).toEqual([{ idleMs: 29 * 60_000, remainingMs: 60_000 }]);
    h.actor.send({ type: 'ACTIVITY' });
    expect(h.actor.getSnapshot().value).toBe('proxying');
    expect(h.states).toEqual(['connecting', 'proxying', 'idle', 'proxying']);
  });

  it.each(['client_closed', 'target_closed', 'admin_kill', 'idle_timeout', 'max_duration', 'shutdown', 'instance_lost', 'error'] as const)(
    'ends from proxying with %s through the one transition, finalising once',
    async (reason) => {
      const h = start();
      h.actor.send({ type: 'AUTHENTICATED', user: 'alice', target });
      h.connect.resolve();
      await flush();
      h.actor.send({ type: 'END', reason, by: 'bob', detail: 'why' });
      h.actor.send({ type: 'END', reason: 'client_closed' });
      expect(h.actor.getSnapshot().value).toBe('terminated');
      expect(h.actor.getSnapshot().status).toBe('done');
      expect(h.finalised).toEqual([{ reason, by: 'bob', detail: 'why' }]);
    },
  );

  it.each(['authenticating', 'selecting', 'connecting', 'idle'] as const)('ends from %s on END', async (state) => {
    const h = start();
    if (state !== 'authenticating') h.actor.send({ type: 'AUTHENTICATED', user: 'alice', ...(state === 'selecting' ? {} : { target }) });
    if (state === 'idle') {
      h.connect.resolve();
      await flush();
      h.actor.send({ type: 'IDLE_WARNING', idleMs: 1, remainingMs: 1 });
    }
    expect(h.actor.getSnapshot().value).toBe(state);
    h.actor.send({ type: 'END', reason: 'shutdown' });
    expect(h.finalised.map((f) => f.reason)).toEqual(['shutdown']);
    if (state === 'connecting') expect(h.connect.aborted()).toBe(true);
  });

  it('ignores events that do not apply to the current state', () => {
    const h = start();
    h.actor.send({ type: 'TARGET_SELECTED', target });
    h.actor.send({ type: 'IDLE_WARNING', idleMs: 1, remainingMs: 1 });
    h.actor.send({ type: 'ACTIVITY' });
    expect(h.actor.getSnapshot().value).toBe('authenticating');
  });
});
