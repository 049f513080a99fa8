/**
 * The channels of one SSH connection. Each shell/exec/sftp channel is its own audit unit: a
 * number within the connection, its own entry in the session record (kind, command, start,
 * end, exit, bytes each way) and, for shell and exec, its own recording and command log
 * stream (`<session>.<n>.cast`). OpenSSH ControlMaster, ansible, paramiko and asyncssh open
 * many channels on one connection; every one of them is recorded, not just the first.
 *
 * The relay hooks run per data chunk: they only move counters and hand the chunk to the
 * channel's audit, which queues it. Nothing here waits on Redis.
 */
import type { Client, Session as SshSession } from 'ssh2';
import type { ChannelKind } from '../machines/session.types.js';
import { ChannelRelay, type RelayHooks, type RelayPolicy } from './channel-relay.js';
import type { Config } from './config.js';
import type { Permission } from './grants.js';
import { countsAsActivity } from './idle-policy.js';
import type { Logger } from './logger.js';
import { MAX_CHANNEL_ENTRIES, type ChannelEntry, type SessionRecord } from './session-record.js';
import { auditChannel, type ChannelAudit } from './audit/channel-audit.js';
import type { AuditSink } from './audit/audit-queues.js';
import { recordingsDir } from './audit/recording-files.js';
import { printable } from './text.js';
import { countTransfer, watchTransfers, type TransferWatch } from './transfers/channel-transfers.js';
import type { Watchable, WatchTap } from './watch/session-watch.js';

/** What the channels need from their session. */
export interface ChannelsHost {
  readonly sessionId: string;
  readonly startedAt: number;
  /** A channel request was accepted (the machine decides what it means). */
  opened(relay: ChannelRelay): void;
  /** User activity, as the grant's policy counts it. */
  activity(): void;
  recordingFailed(channel: number, why: string): void;
}

export interface AuditContext {
  cfg: Config;
  permission: Permission;
  user: string;
  sink?: AuditSink;
  audit: Logger;
}

export class SessionChannels implements Watchable {
  /** Set only while an admin watches this session (src/watch); undefined costs one check per chunk. */
  watch?: WatchTap;
  private readonly relays = new Set<ChannelRelay>();
  private readonly audits = new Map<ChannelRelay, ChannelAudit>();
  private readonly transfers = new Map<ChannelRelay, TransferWatch>();
  /** Uploads, downloads and deletions seen on sftp/scp channels, for the record. */
  private readonly transferCounts: Pick<SessionRecord, 'uploads' | 'downloads' | 'deletions'> = {};
  /** Recordings of closed channels still being flushed. */
  private readonly closing = new Set<Promise<void>>();
  private readonly entries = new Map<ChannelRelay, ChannelEntry>();
  /** Newest channels for the record, oldest dropped beyond MAX_CHANNEL_ENTRIES. */
  private readonly listed: ChannelEntry[] = [];
  private count = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private firstKind?: ChannelKind;
  private firstCommand?: string;
  private exitStatus?: string;
  /** Something the record shows changed since the last flush. */
  dirty = false;
  lastActivityAt = Date.now();
  /** Set once the target is connected: the permission whose policy and rules apply. */
  private context?: AuditContext;

  constructor(
    private readonly host: ChannelsHost,
    private readonly log: Logger,
    private readonly policy: RelayPolicy,
  ) {}

  /** A `session` channel was accepted; it becomes a shell/exec/sftp channel on its request. */
  add(session: SshSession): void {
    this.relays.add(new ChannelRelay(session, this.hooks, this.log, this.policy));
  }

  /** Channels the client has not closed (what limits.maxChannels counts). */
  openCount(): number {
    let n = 0;
    for (const relay of this.relays) if (relay.holdsSlot) n++;
    return n;
  }

  /** The started channel with this number. */
  get(n: number): ChannelRelay | undefined {
    for (const relay of this.relays) if (relay.n === n) return relay;
    return undefined;
  }

  all(): Iterable<ChannelRelay> {
    return this.relays;
  }

  terminals(): ChannelRelay[] {
    return [...this.relays].filter((r) => r.kind === 'shell' && r.pty && this.entries.has(r)).sort((a, b) => a.n - b.n);
  }

  recentOutput(relay: ChannelRelay): Buffer {
    return this.audits.get(relay)?.recentOutput() ?? Buffer.alloc(0);
  }

  /** The target is connected: open every started channel on it, and later ones as they come. */
  attachAll(target: Client, context: AuditContext): void {
    this.context = context;
    for (const relay of this.relays) if (relay.stream) this.attach(relay, target);
    this.target = target;
  }
  private target?: Client;

  private attach(relay: ChannelRelay, target: Client): void {
    const c = this.context!;
    if (c.sink) {
      const { audit, refused } = auditChannel(relay, {
        sessionId: this.host.sessionId, channel: relay.n, sessionStart: this.host.startedAt,
        user: c.user, asset: c.permission.asset, account: c.permission.account,
        rules: c.permission.commands, record: c.cfg.recording.enabled,
        recordingsDir: recordingsDir(c.cfg), recordInput: c.cfg.recording.input,
        sink: c.sink, audit: c.audit, log: this.log.child({ channel: relay.n }),
        onRecordingFailed: (why) => this.recordingFailed(relay, why),
      });
      if (audit) this.audits.set(relay, audit);
      if (refused) {
        relay.say(`${refused}\n`);
        return relay.end(1);
      }
    }
    if (c.cfg.transfer.audit && !this.watchTransfers(relay, c)) return;
    relay.attach(target);
  }

  /** sftp/scp/rsync audit and policy (src/transfers); false when the channel was refused. */
  private watchTransfers(relay: ChannelRelay, c: AuditContext): boolean {
    const sink = c.sink?.transfer && c.sink;
    const t = watchTransfers(relay, {
      session: this.host.sessionId, channel: relay.n, user: c.user, asset: c.permission.asset, account: c.permission.account,
      policy: c.permission.transfer, keep: { ...c.cfg.transfer.keep, dir: c.cfg.transfer.keep.dir! }, rsyncFileLog: c.cfg.transfer.rsyncFileLog, sink: sink ? (e) => sink.transfer!(e) : undefined,
      count: (rec) => countTransfer(this.transferCounts, rec) && (this.dirty = true), audit: c.audit, log: this.log.child({ channel: relay.n }),
    });
    if (t.watch) this.transfers.set(relay, t.watch);
    if (t.refused === undefined) return true;
    relay.say(`${t.refused}\n`);
    relay.end(1);
    return false;
  }

  private recordingFailed(relay: ChannelRelay, why: string): void {
    const entry = this.entries.get(relay);
    if (entry) entry.recordingError = why;
    this.dirty = true;
    this.host.recordingFailed(relay.n, why);
  }

  /** True when at least one channel could show it. */
  say(text: string): boolean {
    let told = false;
    for (const relay of this.relays) told = relay.say(`\r\n${text}\r\n`) || told;
    return told;
  }

  /** Stop auditing; resolves when every recording is closed and queued for finalisation. */
  async closeAudits(): Promise<void> {
    await Promise.all([...[...this.audits.values()].map((a) => a.close()), ...this.closing]);
  }

  /** The record's view of the channels (coarse: written on flush and at the end). */
  recordFields(): Pick<SessionRecord, 'bytesIn' | 'bytesOut' | 'channelCount' | 'channels' | 'exitStatus' | 'command' | 'lastActivity' | 'uploads' | 'downloads' | 'deletions'> & { kind?: ChannelKind } {
    return {
      ...this.transferCounts,
      kind: this.firstKind,
      command: this.firstCommand,
      exitStatus: this.exitStatus,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      channelCount: this.count,
      channels: this.listed,
      lastActivity: this.lastActivityAt,
    };
  }

  private activity(relay: ChannelRelay, direction: 'input' | 'output'): void {
    const policy = this.context?.permission.policy;
    if (countsAsActivity(direction, { kind: relay.kind, pty: relay.pty !== undefined }, policy?.idleActivity ?? 'input')) {
      this.lastActivityAt = Date.now();
      this.host.activity();
    }
  }

  private readonly hooks: RelayHooks = {
    onStart: (relay) => {
      if (relay.kind === 'pending') return;
      relay.n = ++this.count;
      const entry: ChannelEntry = {
        n: relay.n, kind: relay.kind, start: Date.now(), bytesIn: 0, bytesOut: 0,
        ...(relay.command !== undefined ? { command: printable(relay.command, 1024) } : {}),
        ...(relay.pty ? { pty: true } : {}),
      };
      this.entries.set(relay, entry);
      this.listed.push(entry);
      if (this.listed.length > MAX_CHANNEL_ENTRIES) this.listed.shift();
      this.firstKind ??= relay.kind;
      if (this.count === 1) this.firstCommand = entry.command;
      this.dirty = true;
      this.host.opened(relay);
      if (this.target && this.context) this.attach(relay, this.target);
    },
    onInput: (relay, data) => {
      this.audits.get(relay)?.input(data);
      this.bytesIn += data.length;
      this.entries.get(relay)!.bytesIn += data.length;
      this.dirty = true;
      this.activity(relay, 'input');
    },
    onOutput: (relay, data) => {
      const audit = this.audits.get(relay);
      if (audit) {
        audit.output(data);
        if (audit.backlogged) relay.holdOutput(() => audit.drained());
      }
      this.watch?.output(relay, data);
      this.bytesOut += data.length;
      this.entries.get(relay)!.bytesOut += data.length;
      this.dirty = true;
      this.activity(relay, 'output');
    },
    onResize: (relay, cols, rows) => {
      this.audits.get(relay)?.resize(cols, rows);
      this.watch?.resize(relay);
    },
    onExit: (relay, status) => {
      this.exitStatus ??= status;
      const entry = this.entries.get(relay);
      if (entry) entry.exit = status;
      this.dirty = true;
    },
    onClose: (relay) => {
      this.relays.delete(relay);
      this.watch?.closed(relay);
      this.transfers.get(relay)?.close();
      this.transfers.delete(relay);
      const entry = this.entries.get(relay);
      if (entry) entry.end = Date.now();
      this.entries.delete(relay);
      const audit = this.audits.get(relay);
      this.audits.delete(relay);
      // A channel's recording ends with the channel, not with the connection: a ControlPersist
      // master can outlive hundreds of them.
      if (audit) {
        const closed = audit.close().finally(() => this.closing.delete(closed));
        this.closing.add(closed);
      }
      this.dirty = true;
    },
  };
}
