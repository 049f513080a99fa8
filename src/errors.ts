/**
 * The one table of error codes. Every error Warden reports to a user or an admin is declared
 * here once, with a stable code and a message that says what happened and what to do.
 */
import type { EndReason, SessionEnd } from '../machines/session.types.js';
import { printable } from './text.js';

export const ERRORS = {
  CONFIG_INVALID: 'Configuration is invalid',
  CONFIG_UNREADABLE: 'Configuration file cannot be read',
  REDIS_UNAVAILABLE: 'Redis is not reachable',
  EMBEDDED_REDIS_FAILED: 'The embedded redis-server did not start',
  SESSION_NOT_FOUND: 'No session matches that id',
  SESSION_AMBIGUOUS: 'That id prefix matches more than one session',
  RECORDING_NOT_FOUND: 'No recording found for',
  RECORDING_INSTANCE_GONE: 'The Warden instance holding this recording is gone (stopped or unreachable); its recordings are on its disk only',
  SESSION_NOT_LIVE: 'That session has finished; only live sessions can be watched (see its recording)',
  WATCH_NO_ANSWER: 'The instance that owns the session did not start sending its screen',
  USAGE: 'Invalid command line',
  ADMIN_UNAUTHENTICATED: 'Log in first (POST /api/login) or send Authorization: Bearer <token>',
  ADMIN_LOGIN_FAILED: 'Wrong admin name or password',
  ADMIN_RATE_LIMITED: 'Too many failed logins; wait a minute and try again',
  ADMIN_FORBIDDEN: 'Your role does not allow this (operators only)',
  ADMIN_CSRF: 'Missing or wrong X-CSRF-Token header (from the login answer)',
  BAD_REQUEST: 'The request is malformed',
  NOT_FOUND: 'No such endpoint',
  NOT_READY: 'This instance is not ready',
  ADMIN_TOO_MANY_STREAMS: 'Too many event streams are open on this instance; close one or use another instance',
  FLEET_UNAUTHENTICATED: 'Instance-to-instance request without a valid fleet signature',
  INTERNAL: 'Internal error; see the Warden log',
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
  client_timeout: () => 'Connection timed out: the client stopped answering keepalives.',
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
  recording_failed: (e) => `Warden: this session cannot be recorded (${e.detail ?? 'recordings cannot be written'}) and is being closed. Ask an admin to check the recordings disk.`,
  unavailable: () => 'Warden is temporarily unavailable (session registry unreachable). Try again in a minute.',
  shutdown: () => 'Warden is shutting down; your session has been closed. Reconnect in a moment.',
  instance_lost: () => 'The Warden instance serving this session was lost.',
  error: (e) => `Session ended because of an internal error${e.detail ? ` (${e.detail})` : ''}.`,
};

/** User-supplied parts (an admin's name and reason, a target's error text) are made printable: they reach a terminal. */
export function endMessage(end: SessionEnd): string {
  return END_MESSAGES[end.reason]({ ...end, by: end.by === undefined ? undefined : printable(end.by, 128), detail: end.detail === undefined ? undefined : printable(end.detail, 512) });
}

/**
 * What an 'error' on the client's connection ends the session as. ssh2 tags errors of the
 * socket `level: 'socket'`: the client's transport went away (a reset, as paramiko and other
 * libraries close after their last command), which is the client leaving, not an internal
 * error. Its keepalive timeout is `client-timeout`. Anything else broke the protocol.
 */
export function endForClientError(err: Error & { level?: string; code?: string }, loggedIn: boolean): SessionEnd {
  if (err.level === 'client-timeout') return { reason: 'client_timeout' };
  if (err.level === 'socket') return { reason: 'client_closed', detail: `the client's connection failed (${printable(err.code ?? err.message, 64)})` };
  return { reason: loggedIn ? 'error' : 'auth_failed', detail: 'protocol error' };
}

/** Reasons where the peer ended things (or never got in): nothing to tell them. */
const UNTOLD: ReadonlySet<EndReason> = new Set(['client_closed', 'client_timeout', 'auth_failed', 'auth_timeout', 'target_closed']);

/** The goodbye line for an end, or undefined when the user needs none. */
export function farewellFor(end: SessionEnd): string | undefined {
  return UNTOLD.has(end.reason) ? undefined : endMessage(end);
}

const secs = (ms: number) => Math.ceil(ms / 1000);

/** Everything else Warden says in a user's terminal, in one place with the end messages. */
export const NOTICES = {
  idleWarning: (idleMs: number, remainingMs: number) =>
    `Idle for ${Math.round(idleMs / 1000)}s: this session closes in ${secs(remainingMs)}s. Press any key to stay.`,
  durationWarning: (remainingMs: number) => `Warden: this session reaches its maximum duration in ${secs(remainingMs)}s.`,
  recordingFailed: (why: string) =>
    `Warden: this session can no longer be recorded (${why}). It goes on unrecorded; this has been logged for the admins.`,
} as const;

