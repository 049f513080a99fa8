/** The admin API's answers as the console reads them (README "Admin API"). */
export type Role = 'operator' | 'viewer';

export interface Me {
  name: string;
  role: Role;
  via: 'token' | 'session';
  csrfToken?: string;
}

export interface ChannelEntry {
  n: number;
  kind: 'shell' | 'exec' | 'sftp';
  command?: string;
  start: number;
  end?: number;
  exit?: string;
}

export interface Session {
  id: string;
  user: string;
  asset: string;
  account: string;
  remote: string;
  instance: string;
  kind: string;
  state: string;
  start: number;
  lastActivity: number;
  idleDeadline?: number;
  finish?: number;
  reason?: string;
  detail?: string;
  by?: string;
  command?: string;
  bytesIn: number;
  bytesOut: number;
  channels: ChannelEntry[];
  /** Finalised recordings by channel number. */
  recordings?: Record<string, { file: string; sha256: string; chainHead: string }>;
}

export interface CommandEntry {
  session: string;
  user: string;
  asset: string;
  account: string;
  command: string;
  at: number;
  channel?: number;
  offset: number;
  tag?: 'fullscreen' | 'exec' | 'no_pty' | 'denied' | 'unverified';
}

export type AuditEntry = Record<string, unknown> & { at: number; instance: string; event: string };

export interface RecordedChannel {
  channel: number;
  kind: string;
  command?: string;
  live: boolean;
  recording: string;
}

export interface SessionDetail {
  session: Session;
  channels: RecordedChannel[];
  commands: CommandEntry[];
  audit: AuditEntry[];
}

export interface Instance {
  id: string;
  host: string;
  pid: number;
  version: string;
  started: number;
  heartbeat: number;
  sessions: number;
  address: string;
  adminUrl: string;
  alive: boolean;
  /** What it has seen since it started, as of its last heartbeat. */
  counts: {
    logins: number; auth_failures: number; refused: number; commands_denied: number; transfers_denied: number; hostkey_mismatches: number; ended: number;
    /** Sessions ended, by reason (reasons seen only). */
    endedBy: Record<string, number>;
  };
}

/** The fleet's counters of control events. */
export type FleetCounters = Record<'kills' | 'idle_warnings' | 'idle_timeouts' | 'max_duration' | 'reaped', number>;

export interface KillReport {
  outcome: string;
  sessionId: string;
  instance: string;
  ms?: number;
  totalMs: number;
}

export type FleetEvent =
  | { type: 'session_opened'; session: string; instance: string; user: string; asset: string; account: string; state: string; at: number }
  | { type: 'session_state'; session: string; instance: string; state: string; idleDeadline?: number; at: number }
  | { type: 'session_ended'; session: string; instance: string; reason: string; by?: string; at: number }
  | { type: 'kill_acknowledged'; session: string; instance: string; outcome: string; by: string; ms: number; at: number }
  | { type: 'instance_up' | 'instance_down' | 'instance_lost'; instance: string; sessions?: number; at: number };
