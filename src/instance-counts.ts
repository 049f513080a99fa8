/**
 * What one instance has seen since it started (logins, authentication failures, refusals,
 * sessions ended by reason), counted from its own audit events and written with every
 * heartbeat, so `warden terminals`, `GET /api/instances` and the console's instances page show
 * them with no admin listener and no Prometheus. A closed set of names: what a user sends can
 * never add a field. The fleet-wide totals of control events are in counters.ts.
 */
import { END_REASONS, type EndReason } from '../machines/session.types.js';
import { tapAudit } from './admin/audit-tap.js';
import type { Logger } from './logger.js';
import * as z from './zod.js';

/** Audit events counted, under the name they are shown with. */
const COUNTED = {
  auth_success: 'logins',
  auth_failure: 'auth_failures',
  denied: 'refused',
  command_denied: 'commands_denied',
  transfer_denied: 'transfers_denied',
  hostkey_mismatch: 'hostkey_mismatches',
  session_end: 'ended',
} as const satisfies Record<string, string>;

export type CountName = (typeof COUNTED)[keyof typeof COUNTED];
const NAMES = Object.values(COUNTED) as CountName[];

export type InstanceCountsSnapshot = Record<CountName, number> & {
  /** Sessions ended, by reason (only reasons seen). */
  endedBy: Partial<Record<EndReason, number>>;
};

const count = z.int().check(z.minimum(0));

/** The stored field, tolerant of what an older or newer instance wrote: unknown names are
 *  dropped, missing or malformed ones are 0, and a field that is not JSON reads as all zero. */
export function parseCounts(text: string): InstanceCountsSnapshot {
  const snap = empty();
  type Stored = (Record<string, unknown> & { endedBy?: Record<string, unknown> }) | null;
  let raw: Stored;
  try {
    raw = JSON.parse(text) as Stored;
  } catch {
    return snap;
  }
  for (const n of NAMES) {
    const v = count.safeParse(raw?.[n]);
    if (v.success) snap[n] = v.data;
  }
  for (const r of END_REASONS) {
    const v = count.safeParse(raw?.endedBy?.[r]);
    if (v.success && v.data > 0) snap.endedBy[r] = v.data;
  }
  return snap;
}

function empty(): InstanceCountsSnapshot {
  return { ...(Object.fromEntries(NAMES.map((n) => [n, 0])) as Record<CountName, number>), endedBy: {} };
}

export class InstanceCounts {
  private readonly snap = empty();

  /** `audit`, counting what goes through it. */
  tap(audit: Logger): Logger {
    return tapAudit(audit, (e) => this.onAudit(e));
  }

  /** An audit event as the tap passes it (audit-tap.ts); anything else is ignored. */
  onAudit(event: Record<string, unknown>): void {
    const name = COUNTED[event.event as keyof typeof COUNTED];
    if (!name) return;
    this.snap[name]++;
    const reason = event.reason as EndReason;
    if (name === 'ended' && (END_REASONS as readonly string[]).includes(reason)) this.snap.endedBy[reason] = (this.snap.endedBy[reason] ?? 0) + 1;
  }

  /** The field written with the heartbeat. */
  serialize(): string {
    return JSON.stringify(this.snap);
  }
}
