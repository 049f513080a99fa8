/**
 * A session's idle and max-duration clocks. They live in the control queue as delayed jobs
 * (see control-plane.ts); each check asks the pure rules in idle-policy.ts what to do and when to
 * look again. Keystrokes only move `lastActivity` in memory.
 */
import type { SessionEvent } from '../machines/session.types.js';
import { formatDuration } from './duration.js';
import type { SessionPolicy } from '../machines/session.types.js';
import { decideDuration, decideIdle } from './idle-policy.js';

export interface Scheduler {
  schedule(kind: 'idle' | 'duration', sessionId: string, at: number): void;
  /** Drop the session's pending checks (it ended): nothing of it stays in the queue. */
  cancel(sessionId: string): void;
}

export interface TimedSession {
  readonly id: string;
  lastActivity(): number;
  send(event: Extract<SessionEvent, { type: 'END' | 'IDLE_WARNING' | 'DURATION_WARNING' }>): void;
}

export class SessionTimers {
  private started = 0;
  private durationWarned = false;
  private policy?: SessionPolicy;

  constructor(
    private readonly session: TimedSession,
    private readonly scheduler: Scheduler | undefined,
    private readonly onWarn: (kind: 'idle_warnings' | 'idle_timeouts' | 'max_duration') => void,
  ) {}

  get armed(): boolean {
    return this.policy !== undefined;
  }

  /** Start both clocks (once the session has a target and so a policy). */
  arm(policy: SessionPolicy, now = Date.now()): void {
    if (this.policy || !this.scheduler) return;
    this.policy = policy;
    this.started = now;
    this.idleCheck(now);
    if (policy.maxDurationMs) this.durationCheck(now);
  }

  /** The session ended: its pending checks go, and none is scheduled any more. */
  disarm(): void {
    if (!this.policy) return;
    this.policy = undefined;
    this.scheduler!.cancel(this.session.id);
  }

  idleCheck(now: number): void {
    const p = this.policy;
    if (!p) return;
    const d = decideIdle(now, this.session.lastActivity(), { idleTimeoutMs: p.idleTimeoutMs, idleWarningMs: p.idleWarningMs });
    if (d.kind === 'timeout') {
      this.onWarn('idle_timeouts');
      return this.session.send({ type: 'END', reason: 'idle_timeout', detail: formatDuration(p.idleTimeoutMs) });
    }
    if (d.kind === 'warn') {
      this.onWarn('idle_warnings');
      this.session.send({ type: 'IDLE_WARNING', idleMs: d.idleMs, remainingMs: d.remainingMs });
    }
    this.scheduler!.schedule('idle', this.session.id, d.at);
  }

  durationCheck(now: number): void {
    const p = this.policy;
    if (!p?.maxDurationMs) return;
    const d = decideDuration(now, this.started, { maxDurationMs: p.maxDurationMs, warningMs: p.maxDurationWarningMs }, this.durationWarned);
    if (d.kind === 'end') {
      this.onWarn('max_duration');
      return this.session.send({ type: 'END', reason: 'max_duration', detail: formatDuration(p.maxDurationMs) });
    }
    if (d.kind === 'warn') {
      this.durationWarned = true;
      this.session.send({ type: 'DURATION_WARNING', remainingMs: d.remainingMs });
    }
    this.scheduler!.schedule('duration', this.session.id, d.at);
  }
}
