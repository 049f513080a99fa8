/**
 * Types shared by the session machine and the code that provides its effects.
 * Pure: no imports beyond TypeScript itself.
 */

/** Every way a session can end. Closed set: the registry, audit log and CLIs rely on it. */
export const END_REASONS = [
  'client_closed',
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
  'shutdown',
  'instance_lost',
  'error',
] as const;
export type EndReason = (typeof END_REASONS)[number];

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

/** Registry-visible states; `finished` is what `terminated` is called in Redis. */
export type SessionState =
  | 'authenticating'
  | 'selecting'
  | 'connecting'
  | 'proxying'
  | 'idle'
  | 'finished';

export interface SessionPolicyTimes {
  /** Pre-auth deadline (OpenSSH's LoginGraceTime). */
  loginGraceMs: number;
  /** Upper bound on dialling + host key check + target auth. */
  connectTimeoutMs: number;
  /** Failed auth attempts tolerated per connection (OpenSSH's MaxAuthTries). */
  maxAuthTries: number;
}

export type SessionEvent =
  | { type: 'AUTH_FAILED' }
  | { type: 'AUTHENTICATED'; user: string; target?: TargetRef }
  | { type: 'TARGET_SELECTED'; target: TargetRef }
  | { type: 'IDLE_WARNING'; idleMs: number; remainingMs: number }
  | { type: 'ACTIVITY' }
  | { type: 'DURATION_WARNING'; remainingMs: number }
  | ({ type: 'END' } & SessionEnd);

export interface SessionInput extends SessionPolicyTimes {
  sessionId: string;
}

export interface SessionContext extends SessionPolicyTimes {
  sessionId: string;
  authFailures: number;
  user?: string;
  target?: TargetRef;
  end?: SessionEnd;
}

/** Errors thrown by the provided `connectTarget` actor carry the reason to end with. */
export interface ConnectFailure {
  reason: EndReason;
  detail?: string;
}

export function isConnectFailure(value: unknown): value is ConnectFailure {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { reason?: unknown }).reason === 'string' &&
    (END_REASONS as readonly string[]).includes((value as { reason: string }).reason)
  );
}
