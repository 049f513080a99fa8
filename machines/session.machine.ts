/**
 * The session machine: one per SSH connection, from the first byte to the last.
 *
 *   authenticating ──LOGIN(target)──────────────────────────► connecting ──► active
 *         │        ──LOGIN(menu)──► selecting                      ▲        (proxying ⇄ idle)
 *         │                          waitingForChannel ─shell─► menu ─TARGET_SELECTED─┘
 *         │                                 └─exec/sftp: END denied        └─MENU_QUIT: END
 *         ├─LOGIN(denied | unavailable | unrecordable): END
 *         └─AUTH_FAILED × maxAuthTries, or loginGrace: END
 *   any state ──END──► terminated (final; `finalise` is the only cleanup)
 *
 * Pure: it decides, the code in src/ acts. Every effect is a named action or actor that
 * src/ supplies with `machine.provide(...)`; time comes from the actor's clock, so tests
 * drive it with SimulatedClock.
 *
 * Every way out (client EOF, target EOF, kill, idle timeout, max duration, auth failure,
 * refusal, unreachable target, host-key mismatch, recording failure, error, shutdown, lost
 * instance) is an END event taken by the single root transition into `terminated`. Internal
 * decisions raise END rather than targeting `terminated` themselves, so that stays true.
 *
 * Channel data never passes through here: only events that decide something do (a channel
 * opened while a menu is pending, activity while idle, a failed recording).
 */
import { assign, fromPromise, raise, setup } from 'xstate';
import {
  ConnectFailure,
  TOO_MANY_AUTH_FAILURES,
  type SessionContext,
  type SessionEnd,
  type SessionEvent,
  type SessionInput,
  type SessionPolicy,
  type SessionState,
  type TargetGrant,
} from './session.types.js';

export interface ConnectInput<P extends TargetGrant = TargetGrant> {
  sessionId: string;
  permission: P;
}

/** A new session machine typed with src/'s permission type (tests use plain TargetGrant). */
export function createSessionMachine<P extends TargetGrant = TargetGrant>() {
  type Ev = SessionEvent<P>;
  type Login = Extract<Ev, { type: 'LOGIN' }>;
  const outcome = (e: Ev) => (e.type === 'LOGIN' ? e.outcome : undefined);
  const loginUser = assign<SessionContext<P>, Ev, undefined, Ev, never>({ user: ({ event }) => (event as Login).user });

  return setup({
    types: {
      context: {} as SessionContext<P>,
      events: {} as Ev,
      input: {} as SessionInput,
    },
    actors: {
      // Replaced by src/ with the real dialler; the default fails loudly if it was not.
      connectTarget: fromPromise<void, ConnectInput<P>>(async () => {
        throw new ConnectFailure('error', 'connectTarget not provided');
      }),
    },
    actions: {
      /** Mirror the state into the registry (coarse, off the data path). */
      recordState: (_, _params: { state: SessionState; idleRemainingMs?: number }) => {},
      /** Show the target menu on this channel. */
      startSelection: (_, _params: { channel: number; choices: readonly P[] }) => {},
      /** Start the idle and max-duration clocks (once, when the session becomes usable). */
      armTimers: (_, _params: { policy: SessionPolicy }) => {},
      /** Print the idle warning in the user's terminal. */
      warnIdle: (_, _params: { idleMs: number; remainingMs: number }) => {},
      /** Print the max-duration warning in the user's terminal. */
      warnDuration: (_, _params: { remainingMs: number }) => {},
      /** Policy `continue`: tell the user once, flag the record, write an audit event. */
      noteRecordingFailed: (_, _params: { channel: number; why: string }) => {},
      /** The one cleanup path: tell the user, close both sides, finalise the record. */
      finalise: (_, _params: SessionEnd) => {},
    },
    delays: {
      loginGrace: ({ context }) => context.loginGraceMs,
      connectTimeout: ({ context }) => context.connectTimeoutMs,
    },
    guards: {
      lastAuthAttempt: ({ context }) => context.authFailures + 1 >= context.maxAuthTries,
      loginTarget: ({ event }) => outcome(event)?.kind === 'target',
      loginMenu: ({ event }) => outcome(event)?.kind === 'menu',
      loginDenied: ({ event }) => outcome(event)?.kind === 'denied',
      loginUnrecordable: ({ event }) => outcome(event)?.kind === 'unrecordable',
      firstChannelSeen: ({ context }) => context.firstChannel !== undefined,
      firstChannelIsShell: ({ context }) => context.firstChannel?.kind === 'shell',
      terminateUnrecorded: ({ context }) => context.recordingOnFailure === 'terminate',
      firstRecordingFailure: ({ context }) => !context.recordingFailed,
    },
  }).createMachine({
    id: 'session',
    context: ({ input }) => ({ ...input, authFailures: 0, choices: [], recordingFailed: false }),
    initial: 'authenticating',
    on: {
      CHANNEL_OPENED: {
        guard: ({ context }) => context.firstChannel === undefined,
        actions: assign({ firstChannel: ({ event }) => ({ channel: event.channel, kind: event.kind }) }),
      },
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
                raise({ type: 'END', reason: 'auth_failed', detail: TOO_MANY_AUTH_FAILURES }),
              ],
            },
            { actions: assign({ authFailures: ({ context }) => context.authFailures + 1 }) },
          ],
          LOGIN: [
            {
              guard: 'loginTarget',
              target: 'connecting',
              actions: [
                loginUser,
                assign({ permission: ({ event }) => (outcome(event) as Extract<Login['outcome'], { kind: 'target' }>).permission }),
              ],
            },
            {
              guard: 'loginMenu',
              target: 'selecting',
              actions: [loginUser, assign({ choices: ({ event }) => (outcome(event) as Extract<Login['outcome'], { kind: 'menu' }>).choices })],
            },
            {
              guard: 'loginDenied',
              actions: [
                loginUser,
                raise(({ event }) => ({ type: 'END' as const, reason: 'denied' as const, detail: (outcome(event) as { message: string }).message })),
              ],
            },
            {
              guard: 'loginUnrecordable',
              actions: [
                loginUser,
                raise(({ event }) => ({ type: 'END' as const, reason: 'recording_failed' as const, detail: (outcome(event) as { why: string }).why })),
              ],
            },
            { actions: [loginUser, raise({ type: 'END', reason: 'unavailable' })] },
          ],
        },
      },
      selecting: {
        entry: { type: 'recordState', params: { state: 'selecting' } },
        initial: 'waitingForChannel',
        states: {
          // The client's first channel may arrive before the login's outcome (Warden accepts
          // the authentication first, then checks the grants): it is in the context already.
          waitingForChannel: {
            always: [
              { guard: 'firstChannelIsShell', target: 'menu' },
              {
                guard: 'firstChannelSeen',
                // A command or sftp with no target named has nowhere to run.
                actions: raise(({ context }) => ({
                  type: 'END' as const,
                  reason: 'denied' as const,
                  detail: `name a target to run a command or transfer files, e.g. ssh ${context.user ?? 'USER'}@ACCOUNT@ASSET@bastion '...'`,
                })),
              },
            ],
          },
          menu: {
            entry: {
              type: 'startSelection',
              params: ({ context }) => ({ channel: context.firstChannel!.channel, choices: context.choices }),
            },
            on: {
              TARGET_SELECTED: {
                target: '#session.connecting',
                actions: assign({ permission: ({ event }) => event.permission, choices: [] }),
              },
              MENU_QUIT: { actions: raise({ type: 'END', reason: 'client_closed', detail: 'left the menu' }) },
            },
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
          input: ({ context }) => ({ sessionId: context.sessionId, permission: context.permission! }),
          onDone: { target: 'active' },
          onError: {
            actions: raise(({ event }) =>
              event.error instanceof ConnectFailure
                ? { type: 'END' as const, reason: event.error.reason, detail: event.error.detail }
                : { type: 'END' as const, reason: 'error' as const, detail: String(event.error) },
            ),
          },
        },
      },
      active: {
        // The idle clock starts when the user can use the session, not at TCP accept: a slow
        // target login must not eat into the idle allowance. `active` is entered once, so the
        // timers are armed once however often the user goes idle and back.
        entry: { type: 'armTimers', params: ({ context }) => ({ policy: context.permission!.policy }) },
        initial: 'proxying',
        on: {
          DURATION_WARNING: {
            actions: { type: 'warnDuration', params: ({ event }) => ({ remainingMs: event.remainingMs }) },
          },
          RECORDING_FAILED: [
            {
              guard: 'terminateUnrecorded',
              actions: raise(({ event }) => ({ type: 'END' as const, reason: 'recording_failed' as const, detail: event.why })),
            },
            {
              guard: 'firstRecordingFailure',
              actions: [
                assign({ recordingFailed: true }),
                { type: 'noteRecordingFailed', params: ({ event }) => ({ channel: event.channel, why: event.why }) },
              ],
            },
          ],
        },
        states: {
          proxying: {
            entry: { type: 'recordState', params: { state: 'proxying' } },
            on: { IDLE_WARNING: { target: 'idle' } },
          },
          /** Warned; any activity returns to proxying. Being in this state IS the idle flag. */
          idle: {
            entry: [
              // The time left travels with the state, so consoles can count down to the cut.
              {
                type: 'recordState',
                params: ({ event }) => ({ state: 'idle', idleRemainingMs: event.type === 'IDLE_WARNING' ? event.remainingMs : undefined }),
              },
              {
                type: 'warnIdle',
                params: ({ event }) =>
                  event.type === 'IDLE_WARNING' ? { idleMs: event.idleMs, remainingMs: event.remainingMs } : { idleMs: 0, remainingMs: 0 },
              },
            ],
            on: { ACTIVITY: { target: 'proxying' } },
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
}

export type SessionMachine<P extends TargetGrant = TargetGrant> = ReturnType<typeof createSessionMachine<P>>;
