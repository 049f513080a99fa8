/**
 * The session machine: one per SSH connection, from the first byte to the last.
 *
 *   authenticating → (selecting) → connecting → proxying ⇄ idle → terminated
 *
 * Pure: it decides, the code in src/ acts. Every effect is a named action or actor that
 * src/ supplies with `machine.provide(...)`; time comes from the actor's clock, so tests
 * drive it with SimulatedClock.
 *
 * Every way out (client EOF, target EOF, kill, idle timeout, max duration, auth failure,
 * refusal, unreachable target, host-key mismatch, error, shutdown, lost instance) is an END
 * event taken by the single root transition into `terminated`, whose entry action
 * `finalise` is the only cleanup path. Internal deadlines raise END rather than targeting
 * `terminated` themselves, so that stays true.
 */
import { assign, fromPromise, raise, setup } from 'xstate';
import {
  isConnectFailure,
  type SessionContext,
  type SessionEnd,
  type SessionEvent,
  type SessionInput,
  type SessionState,
  type TargetRef,
} from './session.types.js';

export interface ConnectInput {
  sessionId: string;
  target: TargetRef;
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
  },
  actors: {
    // Replaced by src/ with the real dialler; the default fails loudly if it was not.
    connectTarget: fromPromise<void, ConnectInput>(async () => {
      throw { reason: 'error', detail: 'connectTarget not provided' };
    }),
  },
  actions: {
    /** Mirror the state into the registry (coarse, off the data path). */
    recordState: (_, _params: { state: SessionState }) => {},
    /** Show the target menu in the user's terminal. */
    startSelection: () => {},
    /** Print the idle warning in the user's terminal. */
    warnIdle: (_, _params: { idleMs: number; remainingMs: number }) => {},
    /** Print the max-duration warning in the user's terminal. */
    warnDuration: (_, _params: { remainingMs: number }) => {},
    /** The one cleanup path: tell the user, close both sides, finalise the record. */
    finalise: (_, _params: SessionEnd) => {},
  },
  delays: {
    loginGrace: ({ context }) => context.loginGraceMs,
    connectTimeout: ({ context }) => context.connectTimeoutMs,
  },
  guards: {
    lastAuthAttempt: ({ context }) => context.authFailures + 1 >= context.maxAuthTries,
    targetKnown: ({ event }) => event.type === 'AUTHENTICATED' && event.target !== undefined,
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...input, authFailures: 0 }),
  initial: 'authenticating',
  on: {
    END: {
      target: '.terminated',
      actions: assign({
        end: ({ event }) => ({ reason: event.reason, detail: event.detail, by: event.by }),
      }),
    },
  },
  states: {
    authenticating: {
      after: {
        loginGrace: { actions: raise({ type: 'END', reason: 'auth_timeout' }) },
      },
      on: {
        AUTH_FAILED: [
          {
            guard: 'lastAuthAttempt',
            actions: [
              assign({ authFailures: ({ context }) => context.authFailures + 1 }),
              raise({ type: 'END', reason: 'auth_failed', detail: 'too many authentication failures' }),
            ],
          },
          { actions: assign({ authFailures: ({ context }) => context.authFailures + 1 }) },
        ],
        AUTHENTICATED: [
          {
            guard: 'targetKnown',
            target: 'connecting',
            actions: assign({ user: ({ event }) => event.user, target: ({ event }) => event.target }),
          },
          { target: 'selecting', actions: assign({ user: ({ event }) => event.user }) },
        ],
      },
    },
    selecting: {
      entry: [{ type: 'recordState', params: { state: 'selecting' } }, 'startSelection'],
      on: {
        TARGET_SELECTED: {
          target: 'connecting',
          actions: assign({ target: ({ event }) => event.target }),
        },
      },
    },
    connecting: {
      entry: { type: 'recordState', params: { state: 'connecting' } },
      after: {
        connectTimeout: {
          actions: raise({ type: 'END', reason: 'target_unreachable', detail: 'connect timeout' }),
        },
      },
      invoke: {
        src: 'connectTarget',
        input: ({ context }) => ({ sessionId: context.sessionId, target: context.target! }),
        onDone: { target: 'proxying' },
        onError: {
          actions: raise(({ event }) =>
            isConnectFailure(event.error)
              ? { type: 'END', reason: event.error.reason, detail: event.error.detail }
              : { type: 'END', reason: 'error', detail: String(event.error) },
          ),
        },
      },
    },
    proxying: {
      entry: { type: 'recordState', params: { state: 'proxying' } },
      on: {
        IDLE_WARNING: { target: 'idle' },
        DURATION_WARNING: {
          actions: { type: 'warnDuration', params: ({ event }) => ({ remainingMs: event.remainingMs }) },
        },
      },
    },
    idle: {
      entry: [
        { type: 'recordState', params: { state: 'idle' } },
        {
          type: 'warnIdle',
          params: ({ event }) =>
            event.type === 'IDLE_WARNING'
              ? { idleMs: event.idleMs, remainingMs: event.remainingMs }
              : { idleMs: 0, remainingMs: 0 },
        },
      ],
      on: {
        ACTIVITY: { target: 'proxying' },
        DURATION_WARNING: {
          actions: { type: 'warnDuration', params: ({ event }) => ({ remainingMs: event.remainingMs }) },
        },
      },
    },
    terminated: {
      type: 'final',
      entry: [
        {
          type: 'finalise',
          params: ({ context }) => context.end ?? { reason: 'error', detail: 'ended without a reason' },
        },
      ],
    },
  },
});
