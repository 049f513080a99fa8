/**
 * The one table of error codes. Every error Warden reports to a user or an admin is declared
 * here once, with a stable code and a message that says what happened and what to do.
 */
import type { EndReason, SessionEnd } from '../machines/session.types.js';

export const ERRORS = {
  CONFIG_INVALID: 'Configuration is invalid',
  CONFIG_UNREADABLE: 'Configuration file cannot be read',
  REDIS_UNAVAILABLE: 'Redis is not reachable',
  EMBEDDED_REDIS_FAILED: 'The embedded redis-server did not start',
  SESSION_NOT_FOUND: 'No session matches that id',
  SESSION_AMBIGUOUS: 'That id prefix matches more than one session',
  RECORDING_NOT_FOUND: 'No recording found for',
  USAGE: 'Invalid command line',
} as const;
export type ErrorCode = keyof typeof ERRORS;

export class WardenError extends Error {
  constructor(
    readonly code: ErrorCode,
    detail?: string,
  ) {
    super(detail ? `${ERRORS[code]}: ${detail}` : ERRORS[code]);
    this.name = 'WardenError';
  }
}

/** What the user reads in their terminal when a session ends, one per reason. */
const END_MESSAGES: Record<EndReason, (end: SessionEnd) => string> = {
  client_closed: () => 'Connection closed.',
  target_closed: () => 'Connection to the target closed.',
  admin_kill: (e) => `Terminated by admin ${e.by ?? 'unknown'}${e.detail ? `: ${e.detail}` : ''}`,
  idle_timeout: (e) => `Disconnected after ${e.detail ?? 'too long'} idle`,
  max_duration: (e) => `Disconnected: maximum session duration${e.detail ? ` (${e.detail})` : ''} reached`,
  auth_failed: () => 'Too many authentication failures.',
  auth_timeout: () => 'Login grace time exceeded.',
  denied: (e) => `Access denied: ${e.detail ?? 'no grant for that target'}`,
  target_unreachable: (e) =>
    `Cannot reach the target${e.detail ? ` (${e.detail})` : ''}. Try again later or ask an admin to check the asset.`,
  hostkey_mismatch: (e) => `Refused: the target's host key changed. ${e.detail ?? ''}`.trim(),
  unavailable: () => 'Warden is temporarily unavailable (session registry unreachable). Try again in a minute.',
  shutdown: () => 'Warden is shutting down; your session has been closed. Reconnect in a moment.',
  instance_lost: () => 'The Warden instance serving this session was lost.',
  error: (e) => `Session ended because of an internal error${e.detail ? ` (${e.detail})` : ''}.`,
};

export function endMessage(end: SessionEnd): string {
  return END_MESSAGES[end.reason](end);
}
