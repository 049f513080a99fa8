import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { createSessionMachine, type ConnectInput } from '../../machines/session.machine.js';
import { ConnectFailure, type LoginOutcome, type SessionEnd, type SessionPolicy, type SessionState, type TargetGrant } from '../../machines/session.types.js';

type Machine = ReturnType<typeof createSessionMachine>;

interface Harness {
  actor: ReturnType<typeof createActor<Machine>>;
  clock: SimulatedClock;
  finalised: SessionEnd[];
  states: SessionState[];
  /** idleRemainingMs as recorded with each state (consoles count down from it). */
  stateRemaining: Array<number | undefined>;
  idleWarnings: Array<{ idleMs: number; remainingMs: number }>;
  menus: Array<{ channel: number; choices: readonly TargetGrant[] }>;
  armed: SessionPolicy[];
  recordingNotes: Array<{ channel: number; why: string }>;
  connect: { resolve(): void; reject(e: unknown): void; aborted(): boolean; calls: ConnectInput[] };
}

function start(opts: { maxAuthTries?: number; recordingOnFailure?: 'terminate' | 'continue' } = {}): Harness {
  const clock = new SimulatedClock();
  const finalised: SessionEnd[] = [];
  const states: SessionState[] = [];
  const stateRemaining: Array<number | undefined> = [];
  const idleWarnings: Harness['idleWarnings'] = [];
  const menus: Harness['menus'] = [];
  const armed: SessionPolicy[] = [];
  const recordingNotes: Harness['recordingNotes'] = [];
  const pending: Array<{ resolve(): void; reject(e: unknown): void; signal: AbortSignal }> = [];
  const calls: ConnectInput[] = [];
  const machine = createSessionMachine().provide({
    actions: {
      recordState: (_, p) => {
        states.push(p.state);
        stateRemaining.push(p.idleRemainingMs);
      },
      startSelection: (_, p) => menus.push(p),
      armTimers: (_, p) => armed.push(p.policy),
      warnIdle: (_, p) => idleWarnings.push(p),
      noteRecordingFailed: (_, p) => recordingNotes.push(p),
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
    input: {
      sessionId: 'S1', loginGraceMs: 60_000, connectTimeoutMs: 10_000, maxAuthTries: opts.maxAuthTries ?? 6,
      recordingOnFailure: opts.recordingOnFailure ?? 'terminate',
    },
  });
  actor.start();
  return {
    actor, clock, finalised, states, stateRemaining, idleWarnings, menus, armed, recordingNotes,
    connect: {
      resolve: () => pending.shift()!.resolve(),
      reject: (e) => pending.shift()!.reject(e),
      aborted: () => pending.some((p) => p.signal.aborted),
      calls,
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));
const policy: SessionPolicy = { idleTimeoutMs: 60_000, idleWarningMs: 10_000, idleActivity: 'input', maxDurationWarningMs: 0 };
const grant: TargetGrant = { asset: 'web1', account: 'deploy', policy };
const other: TargetGrant = { asset: 'db1', account: 'ops', policy };
const login = (outcome: LoginOutcome<TargetGrant>) => ({ type: 'LOGIN' as const, user: 'alice', outcome });
const value = (h: Harness) => h.actor.getSnapshot().value;

async function proxying(opts: Parameters<typeof start>[0] = {}): Promise<Harness> {
  const h = start(opts);
  h.actor.send(login({ kind: 'target', permission: grant }));
  h.connect.resolve();
  await flush();
  return h;
}

describe('session machine: login routing', () => {
  it('starts authenticating', () => {
    const h = start();
    expect(value(h)).toBe('authenticating');
    expect(h.finalised).toEqual([]);
  });

  it('goes straight to connecting when the login names a target, then proxying, arming the timers once', async () => {
    const h = start();
    h.actor.send(login({ kind: 'target', permission: grant }));
    expect(value(h)).toBe('connecting');
    expect(h.actor.getSnapshot().context.permission).toBe(grant);
    expect(h.connect.calls).toEqual([{ sessionId: 'S1', permission: grant }]);
    expect(h.armed).toEqual([]);
    h.connect.resolve();
    await flush();
    expect(value(h)).toEqual({ active: 'proxying' });
    expect(h.states).toEqual(['connecting', 'proxying']);
    expect(h.armed).toEqual([policy]);
  });

  it('a denied login never enters selecting: it ends with the reason and the user recorded', () => {
    const h = start();
    h.actor.send(login({ kind: 'denied', message: 'no grant for asset "web9"' }));
    expect(h.states).toEqual([]);
    expect(h.menus).toEqual([]);
    expect(h.finalised).toEqual([{ reason: 'denied', detail: 'no grant for asset "web9"', by: undefined }]);
    expect(h.actor.getSnapshot().context.user).toBe('alice');
  });

  it('an unavailable registry ends the login as unavailable, before any state is recorded', () => {
    const h = start();
    h.actor.send(login({ kind: 'unavailable' }));
    expect(h.states).toEqual([]);
    expect(h.finalised.map((f) => f.reason)).toEqual(['unavailable']);
  });

  it('unwritable recordings end the login as recording_failed with the cause', () => {
    const h = start();
    h.actor.send(login({ kind: 'unrecordable', why: 'no space left on device' }));
    expect(h.states).toEqual([]);
    expect(h.finalised).toEqual([{ reason: 'recording_failed', detail: 'no space left on device', by: undefined }]);
  });

  it('a menu login waits for a channel and shows the menu only on a shell', () => {
    const h = start();
    h.actor.send(login({ kind: 'menu', choices: [grant, other] }));
    expect(value(h)).toEqual({ selecting: 'waitingForChannel' });
    expect(h.states).toEqual(['selecting']);
    expect(h.menus).toEqual([]);
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 1, kind: 'shell' });
    expect(value(h)).toEqual({ selecting: 'menu' });
    expect(h.menus).toEqual([{ channel: 1, choices: [grant, other] }]);
    // A second channel while the menu shows changes nothing.
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 2, kind: 'exec' });
    expect(value(h)).toEqual({ selecting: 'menu' });
    h.actor.send({ type: 'TARGET_SELECTED', permission: other });
    expect(value(h)).toBe('connecting');
    expect(h.actor.getSnapshot().context.permission).toBe(other);
    expect(h.connect.calls).toEqual([{ sessionId: 'S1', permission: other }]);
  });

  it('a shell opened before the login outcome (it is accepted first) shows the menu at once', () => {
    const h = start();
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 1, kind: 'shell' });
    expect(value(h)).toBe('authenticating');
    h.actor.send(login({ kind: 'menu', choices: [grant] }));
    expect(value(h)).toEqual({ selecting: 'menu' });
    expect(h.menus).toEqual([{ channel: 1, choices: [grant] }]);
  });

  it.each(['exec', 'sftp'] as const)('a menu login whose first channel is %s is refused with how to name a target', (kind) => {
    const h = start();
    h.actor.send(login({ kind: 'menu', choices: [grant] }));
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 1, kind });
    expect(h.menus).toEqual([]);
    expect(h.finalised).toHaveLength(1);
    expect(h.finalised[0]!.reason).toBe('denied');
    expect(h.finalised[0]!.detail).toContain('alice@ACCOUNT@ASSET@bastion');
  });

  it('leaving the menu ends the session as client_closed', () => {
    const h = start();
    h.actor.send(login({ kind: 'menu', choices: [grant] }));
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 1, kind: 'shell' });
    h.actor.send({ type: 'MENU_QUIT' });
    expect(h.finalised).toEqual([{ reason: 'client_closed', detail: 'left the menu', by: undefined }]);
  });

  it('ignores channels opened while a direct login is connecting or proxying', async () => {
    const h = start();
    h.actor.send(login({ kind: 'target', permission: grant }));
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 1, kind: 'exec' });
    expect(value(h)).toBe('connecting');
    h.connect.resolve();
    await flush();
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 2, kind: 'shell' });
    expect(value(h)).toEqual({ active: 'proxying' });
    expect(h.menus).toEqual([]);
  });
});

describe('session machine: authentication', () => {
  it('counts auth failures and ends with auth_failed at the limit', () => {
    const h = start({ maxAuthTries: 3 });
    h.actor.send({ type: 'AUTH_FAILED' });
    h.actor.send({ type: 'AUTH_FAILED' });
    expect(value(h)).toBe('authenticating');
    expect(h.actor.getSnapshot().context.authFailures).toBe(2);
    h.actor.send({ type: 'AUTH_FAILED' });
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.finalised).toEqual([{ reason: 'auth_failed', detail: 'too many authentication failures', by: undefined }]);
  });

  it('ends with auth_timeout when the login grace time passes', () => {
    const h = start();
    h.clock.increment(59_999);
    expect(value(h)).toBe('authenticating');
    h.clock.increment(1);
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.finalised[0]!.reason).toBe('auth_timeout');
  });

  it('cancels the login grace timer once authenticated', () => {
    const h = start();
    h.actor.send(login({ kind: 'menu', choices: [grant] }));
    h.clock.increment(120_000);
    expect(value(h)).toEqual({ selecting: 'waitingForChannel' });
    expect(h.finalised).toEqual([]);
  });
});

describe('session machine: connecting', () => {
  it('maps a connect failure to its reason', async () => {
    const h = start();
    h.actor.send(login({ kind: 'target', permission: grant }));
    h.connect.reject(new ConnectFailure('hostkey_mismatch', 'fingerprints differ'));
    await flush();
    expect(h.finalised).toEqual([{ reason: 'hostkey_mismatch', detail: 'fingerprints differ', by: undefined }]);
  });

  it('maps an unexpected connect error to reason error', async () => {
    const h = start();
    h.actor.send(login({ kind: 'target', permission: grant }));
    h.connect.reject(new Error('boom'));
    await flush();
    expect(h.finalised[0]!.reason).toBe('error');
    expect(h.finalised[0]!.detail).toContain('boom');
  });

  it('ends with target_unreachable at the connect timeout and aborts the dial', () => {
    const h = start();
    h.actor.send(login({ kind: 'target', permission: grant }));
    h.clock.increment(10_000);
    expect(h.finalised[0]!.reason).toBe('target_unreachable');
    expect(h.connect.aborted()).toBe(true);
  });
});

describe('session machine: active', () => {
  it('idle is a state: a warning enters it, activity leaves it, timers stay armed once', async () => {
    const h = await proxying();
    h.actor.send({ type: 'ACTIVITY' });
    expect(value(h)).toEqual({ active: 'proxying' });
    h.actor.send({ type: 'IDLE_WARNING', idleMs: 50_000, remainingMs: 10_000 });
    expect(h.actor.getSnapshot().matches({ active: 'idle' })).toBe(true);
    expect(h.idleWarnings).toEqual([{ idleMs: 50_000, remainingMs: 10_000 }]);
    h.actor.send({ type: 'ACTIVITY' });
    expect(value(h)).toEqual({ active: 'proxying' });
    h.actor.send({ type: 'IDLE_WARNING', idleMs: 50_000, remainingMs: 10_000 });
    h.actor.send({ type: 'ACTIVITY' });
    expect(h.states).toEqual(['connecting', 'proxying', 'idle', 'proxying', 'idle', 'proxying']);
    // The time left travels with the idle state (to the registry and the consoles' countdown).
    expect(h.stateRemaining).toEqual([undefined, undefined, 10_000, undefined, 10_000, undefined]);
    expect(h.armed).toHaveLength(1);
  });

  it('a failed recording ends the session under policy terminate', async () => {
    const h = await proxying({ recordingOnFailure: 'terminate' });
    h.actor.send({ type: 'RECORDING_FAILED', channel: 2, why: 'no space left on device' });
    expect(h.recordingNotes).toEqual([]);
    expect(h.finalised).toEqual([{ reason: 'recording_failed', detail: 'no space left on device', by: undefined }]);
  });

  it('a failed recording is noted once and the session goes on under policy continue', async () => {
    const h = await proxying({ recordingOnFailure: 'continue' });
    h.actor.send({ type: 'RECORDING_FAILED', channel: 1, why: 'no space left on device' });
    h.actor.send({ type: 'RECORDING_FAILED', channel: 2, why: 'no space left on device' });
    expect(h.recordingNotes).toEqual([{ channel: 1, why: 'no space left on device' }]);
    expect(h.finalised).toEqual([]);
    expect(value(h)).toEqual({ active: 'proxying' });
  });

  it.each(['client_closed', 'client_timeout', 'target_closed', 'admin_kill', 'idle_timeout', 'max_duration', 'shutdown', 'instance_lost', 'error'] as const)(
    'ends from proxying with %s through the one transition, finalising once',
    async (reason) => {
      const h = await proxying();
      h.actor.send({ type: 'END', reason, by: 'bob', detail: 'why' });
      h.actor.send({ type: 'END', reason: 'client_closed' });
      expect(value(h)).toBe('terminated');
      expect(h.actor.getSnapshot().status).toBe('done');
      expect(h.finalised).toEqual([{ reason, by: 'bob', detail: 'why' }]);
    },
  );

  it.each(['authenticating', 'selecting', 'connecting', 'idle'] as const)('ends from %s on END', async (state) => {
    const h = start();
    if (state === 'selecting') h.actor.send(login({ kind: 'menu', choices: [grant] }));
    if (state === 'connecting' || state === 'idle') h.actor.send(login({ kind: 'target', permission: grant }));
    if (state === 'idle') {
      h.connect.resolve();
      await flush();
      h.actor.send({ type: 'IDLE_WARNING', idleMs: 1, remainingMs: 1 });
    }
    expect(h.actor.getSnapshot().matches(state === 'idle' ? { active: 'idle' } : state)).toBe(true);
    h.actor.send({ type: 'END', reason: 'shutdown' });
    expect(h.finalised.map((f) => f.reason)).toEqual(['shutdown']);
    if (state === 'connecting') expect(h.connect.aborted()).toBe(true);
  });

  it('ignores events that do not apply to the current state', () => {
    const h = start();
    h.actor.send({ type: 'TARGET_SELECTED', permission: grant });
    h.actor.send({ type: 'IDLE_WARNING', idleMs: 1, remainingMs: 1 });
    h.actor.send({ type: 'ACTIVITY' });
    h.actor.send({ type: 'RECORDING_FAILED', channel: 1, why: 'x' });
    h.actor.send({ type: 'CHANNEL_OPENED', channel: 1, kind: 'shell' });
    expect(value(h)).toBe('authenticating');
    expect(h.finalised).toEqual([]);
  });
});
