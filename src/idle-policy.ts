/**
 * Idle and max-duration decisions, pure. A control job fires at the time the last decision
 * asked for, looks at the session's last activity, and gets back what to do now and when to
 * look again. Activity itself never touches Redis: it only moves `lastActivity` in memory,
 * and the next check notices (lazy re-check), so Redis sees O(session length / timeout)
 * writes however fast the user types.
 */
export interface IdleRules {
  idleTimeoutMs: number;
  idleWarningMs: number;
}

export type IdleDecision =
  /** Not idle long enough: look again at `at`. */
  | { kind: 'check'; at: number }
  /** Warn now; look again at `at` (the timeout). */
  | { kind: 'warn'; idleMs: number; remainingMs: number; at: number }
  | { kind: 'timeout'; idleMs: number };

export function decideIdle(now: number, lastActivity: number, rules: IdleRules): IdleDecision {
  const idleMs = Math.max(0, now - lastActivity);
  const timeoutAt = lastActivity + rules.idleTimeoutMs;
  if (now >= timeoutAt) return { kind: 'timeout', idleMs };
  const warnAt = lastActivity + Math.max(0, rules.idleTimeoutMs - rules.idleWarningMs);
  if (rules.idleWarningMs > 0 && now >= warnAt) return { kind: 'warn', idleMs, remainingMs: timeoutAt - now, at: timeoutAt };
  return { kind: 'check', at: rules.idleWarningMs > 0 ? warnAt : timeoutAt };
}

export interface DurationRules {
  maxDurationMs: number;
  warningMs: number;
}

export type DurationDecision =
  | { kind: 'check'; at: number }
  | { kind: 'warn'; remainingMs: number; at: number }
  | { kind: 'end' };

/** `warned` says whether the warning was already given (so it is given once). */
export function decideDuration(now: number, start: number, rules: DurationRules, warned: boolean): DurationDecision {
  const endAt = start + rules.maxDurationMs;
  if (now >= endAt) return { kind: 'end' };
  const warnAt = endAt - Math.min(rules.warningMs, rules.maxDurationMs);
  if (!warned && rules.warningMs > 0 && now >= warnAt) return { kind: 'warn', remainingMs: endAt - now, at: endAt };
  return { kind: 'check', at: warned || rules.warningMs <= 0 ? endAt : warnAt };
}

/**
 * What counts as activity for the idle clock. Keystrokes always do. Output does on transfers
 * (sftp, exec without a terminal: scp, rsync, git), so a long download is never cut as idle;
 * on terminals only when the grant says `input+output` (a `tail -f` someone is watching).
 */
export function countsAsActivity(
  direction: 'input' | 'output',
  channel: { kind: string; pty: boolean },
  idleActivity: 'input' | 'input+output',
): boolean {
  if (direction === 'input') return true;
  return channel.kind === 'sftp' || (channel.kind === 'exec' && !channel.pty) || idleActivity === 'input+output';
}
