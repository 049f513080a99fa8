/**
 * Metrics that count audit events (auth failures, session ends) without touching the code
 * that writes them: the instance hands sessions a logger that passes every audit event to a
 * listener and then to the real audit logger. Only objects logged directly are seen; rare
 * events, so one object lookup each is nothing.
 */
import type { Logger } from '../logger.js';

export type AuditListener = (event: Record<string, unknown>) => void;

export function tapAudit(audit: Logger, listener: AuditListener): Logger {
  const tapped = Object.create(audit) as Logger;
  for (const level of ['info', 'warn', 'error'] as const) {
    const write = audit[level].bind(audit) as (...args: unknown[]) => void;
    (tapped as unknown as Record<string, unknown>)[level] = (...args: unknown[]) => {
      const first = args[0];
      if (first && typeof first === 'object') {
        try {
          listener(first as Record<string, unknown>);
        } catch {
          // A metrics bug must never lose an audit event.
        }
      }
      write(...args);
    };
  }
  return tapped;
}
