/**
 * Every admin API error is `{ error: { code, message } }` with a code from src/errors.ts and a
 * matching HTTP status; Fastify's own errors (bad JSON, body too large, failed validation) are
 * mapped to BAD_REQUEST with their status kept, and nothing unexpected leaks a stack trace.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, WardenError, type ErrorCode } from '../errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  SESSION_NOT_FOUND: 404,
  SESSION_AMBIGUOUS: 400,
  RECORDING_NOT_FOUND: 404,
  RECORDING_INSTANCE_GONE: 404,
  ADMIN_TOO_MANY_STREAMS: 503,
  FLEET_UNAUTHENTICATED: 401,
  SESSION_NOT_LIVE: 409,
  WATCH_NO_ANSWER: 504,
  ADMIN_UNAUTHENTICATED: 401,
  ADMIN_LOGIN_FAILED: 401,
  ADMIN_RATE_LIMITED: 429,
  ADMIN_FORBIDDEN: 403,
  ADMIN_CSRF: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  NOT_READY: 503,
  REDIS_UNAVAILABLE: 503,
};

export function errorBody(code: ErrorCode, message: string = ERRORS[code]): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

export function sendError(reply: FastifyReply, err: unknown, req?: FastifyRequest): FastifyReply {
  if (err instanceof WardenError) return reply.code(STATUS[err.code] ?? 500).send(errorBody(err.code, err.message));
  const fe = err as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.code(fe.statusCode).send(errorBody('BAD_REQUEST', `${ERRORS.BAD_REQUEST}: ${fe.message ?? ''}`.slice(0, 300)));
  }
  req?.log.error({ err }, 'admin API: unexpected error');
  return reply.code(500).send(errorBody('INTERNAL'));
}
