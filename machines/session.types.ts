/**
 * Types shared by the session machine and the code that provides its effects.
 * Pure: no imports beyond TypeScript itself.
 */

/** Every way a session can end. Closed set: the registry, audit log and CLIs rely on it. */
export const END_REASONS = [
  'client_closed',
  'client_timeout',
  'target_closed',
  'admin_kill',
  'idle_timeout',
  'max_duration',
  'auth_failed',
  'auth_timeout',
  'denied',
  'target_unreachable',
  'hostkey_mismatch',
  'unavailable',
  'recording_failed',
  'shutdown',
  'instance_lost',
  'error',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** The detail of the auth_failed end at the MaxAuthTries limit (OpenSSH's wording). */
export const TOO_MANY_AUTH_FAILURES = 'too many authentication failures';

/** What one session ended with. `by` names the admin for kills; `detail` is shown to the user. */
export interface SessionEnd {
  reason: EndReason;
  detail?: string;
  by?: string;
}

export interface TargetRef {
  asset: string;
  account: string;
}

/** Idle and duration policy of one grant (ms). */
export interface SessionPolicy {
  idleTimeoutMs: number;
  idleWarningMs: number;
  idleActivity: 'input' | 'input+output';
  maxDurationMs?: number;
  maxDurationWarningMs: number;
}

/**
 * What the machine needs of a granted target. src/ passes its richer Permission (host,
 * credentials account, compiled command filter...) through the machine's type parameter, so
 * the context holds the one copy of it, fully typed.
 */
export interface TargetGrant extends TargetRef {
  policy: SessionPolicy;
}

/** Registry-visible states; `finished` is what `terminated` is called in Redis. */
export type SessionState = 'authenticating' | 'selecting' | 'connecting' | 'proxying' | 'idle' | 'finished';

/** Kinds of channel a client can open (the ones Warden relays). */
export type ChannelKind = 'shell' | 'exec' | 'sftp';

/** What a recording that cannot be written does to its session (`recording.onFailure`). */
export type RecordingFailurePolicy = 'terminate' | 'continue';

/**
 * The outcome of a successful authentication, decided by src/ from the grants, the registry's
 * health and the recordings directory's health; the machine routes on it.
 */
export type LoginOutcome<P extends TargetGrant> =
  /** The login named a target the user may use: dial it at once. */
  | { kind: 'target'; permission: P }
  /** No target named: show the menu of these once the client opens a shell. */
  | { kind: 'menu'; choices: readonly P[] }
  | { kind: 'denied'; message: string }
  /** The registry cannot be reached: nobody could see or kill this session. */
  | { kind: 'unavailable' }
  /** Recordings cannot be written and the policy is `terminate`. */
  | { kind: 'unrecordable'; why: string };

export type SessionEvent<P extends TargetGrant = TargetGrant> =
  | { type: 'AUTH_FAILED' }
  | { type: 'LOGIN'; user: string; outcome: LoginOutcome<P> }
  /** A shell/exec/sftp channel was accepted; `channel` numbers it within the connection. */
  | { type: 'CHANNEL_OPENED'; channel: number; kind: ChannelKind }
  | { type: 'TARGET_SELECTED'; permission: P }
  | { type: 'MENU_QUIT' }
  | { type: 'IDLE_WARNING'; idleMs: number; remainingMs: number }
  | { type: 'ACTIVITY' }
  | { type: 'DURATION_WARNING'; remainingMs: number }
  | { type: 'RECORDING_FAILED'; channel: number; why: string }
  | ({ type: 'END' } & SessionEnd);

export interface SessionPolicyTimes {
  /** Pre-auth deadline (OpenSSH's LoginGraceTime). */
  loginGraceMs: number;
  /** Upper bound on dialling + host key check + target auth. */
  connectTimeoutMs: number;
  /** Failed auth attempts tolerated per connection (OpenSSH's MaxAuthTries). */
  maxAuthTries: number;
}

export interface SessionInput extends SessionPolicyTimes {
  sessionId: string;
  recordingOnFailure: RecordingFailurePolicy;
}

export interface SessionContext<P extends TargetGrant = TargetGrant> extends SessionInput {
  authFailures: number;
  user?: string;
  /** The granted target: set on a direct login or a menu pick, never anywhere else. */
  permission?: P;
  /** The menu's choices while selecting. */
  choices: readonly P[];
  /** The connection's first channel: it shows the menu, or is refused when it is not a shell. */
  firstChannel?: { channel: number; kind: ChannelKind };
  /** Recording failures already told to the user (policy `continue`). */
  recordingFailed: boolean;
  end?: SessionEnd;
}

/** Errors thrown by the provided `connectTarget` actor carry the reason to end with. */
export class ConnectFailure extends Error {
  constructor(
    readonly reason: EndReason,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ConnectFailure';
  }
}
