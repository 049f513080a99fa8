/**
 * The root pino logger. Redaction is configured here and only here: pino's `redact` on a
 * child replaces the parent's rules, so children never pass their own.
 */
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { makePrivateDir, PRIVATE_FILE } from './private-files.js';

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

/** The field names redacted above, for copies of log objects written elsewhere (the audit stream). */
export const REDACTED_FIELDS: ReadonlySet<string> = new Set(REDACT.filter((p) => !p.includes('*')));

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
function auditDestination(file: string): pino.DestinationStream {
  // pino's own `mkdir` would follow the umask; the audit log is private (0600 in 0700).
  makePrivateDir(dirname(file));
  closeSync(openSync(file, 'a', PRIVATE_FILE));
  return pino.destination({ dest: file, sync: false });
}

export function createAuditLogger(file: string): Logger {
  return pino(
    { level: 'info', redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid }, messageKey: 'msg' },
    auditDestination(file),
  );
}
