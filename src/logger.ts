/**
 * The root pino logger. Redaction is configured here and only here: pino's `redact` on a
 * child replaces the parent's rules, so children never pass their own.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password',
  '*.password',
  'passphrase',
  '*.passphrase',
  'privateKey',
  '*.privateKey',
  'signature',
  '*.signature',
  'data',
  '*.data',
];

export function createLogger(opts: { pretty?: boolean; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = {
    level: opts.level ?? process.env.WARDEN_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (opts.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return opts.destination ? pino(base, opts.destination as pino.DestinationStream) : pino(base);
}

/**
 * Audit events (sessions, auth, refusals, kills, command denials) as JSON lines in their own
 * file, so they can be shipped and kept apart from the debug log. Same redaction.
 */
export function createAuditLogger(file: string): Logger {
  return pino(
    { level: 'info', redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid }, messageKey: 'msg' },
    pino.destination({ dest: file, mkdir: true, sync: false }),
  );
}
