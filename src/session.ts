/**
 * One SSH connection through Warden: the ssh2 server connection, its session actor (the
 * machine in machines/session.machine.ts, with effects provided here), its channels and the
 * target connection. The machine decides every step; this class only acts and reports what
 * happened as events.
 *
 * The data path (relay hooks in session-channels.ts) only bumps in-memory counters; the
 * registry sees activity through the supervisor's periodic flush.
 */
import type { Client, Connection } from 'ssh2';
import { createActor, fromPromise, type Actor } from 'xstate';
import { createSessionMachine, type ConnectInput } from '../machines/session.machine.js';
import type { EndReason, SessionEnd, SessionEvent, SessionState } from '../machines/session.types.js';
import type { ChannelRelay } from './channel-relay.js';
import type { Config } from './config.js';
import { endForClientError, farewellFor, NOTICES } from './errors.js';
import type { Permission } from './grants.js';
import type { HostKeyStore } from './hostkeys.js';
import { newSessionId } from './ids.js';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';
import type { SessionRecord } from './session-record.js';
import { SessionLogin } from './session-login.js';
import { SessionChannels } from './session-channels.js';
import { SessionTimers, type Scheduler } from './session-timers.js';
import type { AuditSink } from './audit/audit-queues.js';
import type { AuthPenalty } from './auth-penalty.js';
import type { Counters } from './counters.js';
import type { RecordingHealth } from './recording/recording-health.js';
import { disconnectFor, Farewell } from './session-farewell.js';
import { connectTarget } from './target-connector.js';
import { runMenu } from './target-menu.js';
import { refuseForwarding, SessionRefusals } from './session-refusals.js';
import { EnvPolicy } from './env-policy.js';
import { printable } from './text.js';

export interface SessionDeps {
  cfg: Config;
  penalty?: AuthPenalty;
  /** Where recordings and command log entries go (BullMQ audit queues). */
  auditSink?: AuditSink;
  /** Where idle and max-duration checks are scheduled (the control queue). */
  scheduler?: Scheduler;
  counters?: Counters;
  recordingHealth?: RecordingHealth;
  /** False while Redis does not answer: new logins are then refused unless configured. */
  registryAvailable(): boolean;
  registry: Registry;
  hostKeys: HostKeyStore;
  instanceId: string;
  log: Logger;
  audit: Logger;
}

/** Reported to the supervisor once, when the session has ended. */
export interface SessionEnded {
  session: Session;
  /** The final record (kept by the supervisor if Redis could not take it). */
  final: SessionRecord & { reason: EndReason };
  /** Settles when the record is written (true) or could not be (false), recordings closed. */
  persisted: Promise<boolean>;
}

/** Each actor system's session: effects are provided ONCE (`provide()` builds a whole machine, ~20 KiB a session). */
const owners = new WeakMap<object, Session>();
const ownerOf = (system: object): Session => owners.get(system)!;

export class Session {
  private static readonly machine = createSessionMachine<Permission>().provide({
    actions: {
      recordState: ({ system }, { state, idleRemainingMs }) => ownerOf(system).recordState(state, idleRemainingMs),
      startSelection: ({ system }, { channel, choices }) => ownerOf(system).showMenu(channel, choices),
      armTimers: ({ system }, { policy }) => ownerOf(system).armTimers(policy),
      warnIdle: ({ system }, p) => ownerOf(system).channels.say(NOTICES.idleWarning(p.idleMs, p.remainingMs)),
      warnDuration: ({ system }, p) => ownerOf(system).channels.say(NOTICES.durationWarning(p.remainingMs)),
      noteRecordingFailed: ({ system }, p) => ownerOf(system).noteRecordingFailed(p.channel, p.why),
      finalise: ({ system }, end) => ownerOf(system).finalise(end),
    },
    actors: {
      connectTarget: fromPromise<void, ConnectInput<Permission>>(({ input, signal, system }) => ownerOf(system).dial(input.permission, signal)),
    },
  });

  readonly id = newSessionId();
  readonly record: SessionRecord;
  readonly log: Logger;
  private readonly actor: Actor<typeof Session.machine>;
  /** Its channels; the live-watch hub reads the terminal ones while an admin watches. */
  readonly channels: SessionChannels;
  private readonly farewell: Farewell;
  private readonly refusals: SessionRefusals;
  private readonly timers: SessionTimers;
  private target?: Client;
  private ended = false;
  private readonly login: SessionLogin;

  constructor(
    private readonly client: Connection,
    remote: string,
    private readonly deps: SessionDeps,
    private readonly onEnded: (ended: SessionEnded) => void,
  ) {
    const now = Date.now();
    const { cfg } = deps;
    this.log = deps.log.child({ session: this.id });
    this.farewell = new Farewell(client);
    this.refusals = new SessionRefusals({ id: this.id, audit: deps.audit, log: this.log, say: (t) => this.channels.say(t) });
    this.record = {
      id: this.id, user: '', asset: '', account: '', remote, instance: deps.instanceId, kind: 'pending',
      state: 'authenticating', start: now, lastActivity: now, bytesIn: 0, bytesOut: 0, channelCount: 0, channels: [],
    };
    this.login = new SessionLogin(deps, {
      sessionId: this.id,
      remote,
      ended: () => this.ended,
      failed: () => {
        this.send({ type: 'AUTH_FAILED' });
        return this.ended;
      },
      authenticated: (user, outcome) => {
        this.record.user = user;
        if (outcome.kind === 'target') Object.assign(this.record, { asset: outcome.permission.asset, account: outcome.permission.account });
        this.send({ type: 'LOGIN', user, outcome });
      },
    });
    this.channels = new SessionChannels(
      {
        sessionId: this.id,
        startedAt: now,
        opened: (relay) => this.channelOpened(relay),
        activity: () => {
          if (this.record.state === 'idle') this.send({ type: 'ACTIVITY' }); // per key: the record mirrors the machine's state
        },
        recordingFailed: (channel, why) => {
          deps.recordingHealth?.failed(why);
          this.send({ type: 'RECORDING_FAILED', channel, why });
        },
      },
      this.log,
      { env: new EnvPolicy(cfg.env.allow), refusals: this.refusals },
    );
    this.timers = new SessionTimers(
      { id: this.id, lastActivity: () => this.channels.lastActivityAt, send: (e) => this.send(e) },
      deps.scheduler,
      (counter) => deps.counters?.add(counter),
    );
    this.actor = createActor(Session.machine, {
      input: {
        sessionId: this.id,
        loginGraceMs: cfg.auth.loginGraceTime,
        connectTimeoutMs: cfg.target.connectTimeout + 1_000,
        maxAuthTries: cfg.auth.maxTries,
        recordingOnFailure: cfg.recording.onFailure,
      },
    });
    owners.set(this.actor.system, this);
    // An error inside the actor (a throwing action) must end this session, never the process.
    this.actor.subscribe({ error: (err) => this.finalise({ reason: 'error', detail: err instanceof Error ? err.message : String(err) }) });
    this.wire();
  }

  private armTimers(policy: Parameters<SessionTimers['arm']>[0]): void { this.channels.lastActivityAt = Date.now(); this.timers.arm(policy); }
  start(): void {
    void this.deps.registry.open(this.record).catch((err: unknown) => this.log.warn({ err }, 'registry open failed'));
    this.actor.start();
  }

  send(event: SessionEvent<Permission>): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send(event);
  }

  /** A due idle or max-duration check (from the control queue). */
  check(kind: 'idle' | 'duration', now: number): void {
    if (kind === 'idle') this.timers.idleCheck(now);
    else this.timers.durationCheck(now);
  }

  /** Record fields that changed since the last call (for the supervisor's coarse flush). */
  takeChanges(): Partial<SessionRecord> | undefined {
    if (!this.channels.dirty || this.ended) return undefined;
    this.channels.dirty = false;
    return this.syncRecord();
  }

  /** The current record, for re-asserting it after Redis lost it. */
  current(): SessionRecord {
    this.syncRecord();
    return this.record;
  }

  private syncRecord(): Partial<SessionRecord> {
    const { kind, ...fields } = this.channels.recordFields();
    Object.assign(this.record, fields, kind ? { kind } : {});
    return { ...fields, kind: this.record.kind };
  }

  private wire(): void {
    const c = this.client;
    c.on('error', (err: Error & { level?: string }) => {
      // ssh2 reports socket errors and protocol violations here; the session ends with them.
      this.log.info({ err: printable(err.message), level: err.level }, 'client connection error');
      this.send({ type: 'END', ...endForClientError(err, Boolean(this.record.user)) });
    });
    c.on('close', () => this.send({ type: 'END', reason: 'client_closed' }));
    c.on('authentication', (ctx) => this.login.attempt(ctx));
    c.on('session', (accept, reject) => {
      if (this.ended && !this.farewell.waiting) return reject();
      if (this.refusals.admitChannel(this.channels.openCount(), this.deps.cfg.limits.maxChannels, reject)) this.channels.add(accept());
    });
    refuseForwarding(c, this.refusals);
  }

  // --- channels and menu ------------------------------------------------------------------

  private channelOpened(relay: ChannelRelay): void {
    if (this.farewell.waiting) return this.farewell.onChannel(relay);
    if (relay.kind !== 'pending') this.send({ type: 'CHANNEL_OPENED', channel: relay.n, kind: relay.kind });
  }

  private showMenu(channel: number, choices: readonly Permission[]): void {
    const relay = this.channels.get(channel);
    if (!relay?.stream) return;
    runMenu(relay.stream, this.record.user, [...choices], {
      onQuit: () => this.send({ type: 'MENU_QUIT' }),
      onPick: (permission) => {
        Object.assign(this.record, { asset: permission.asset, account: permission.account });
        this.send({ type: 'TARGET_SELECTED', permission });
      },
    });
  }

  // --- target -----------------------------------------------------------------------------

  private async dial(permission: Permission, signal: AbortSignal): Promise<void> {
    const target = await connectTarget({
      cfg: this.deps.cfg,
      permission,
      hostKeys: this.deps.hostKeys,
      signal,
      onMismatch: (m) => this.deps.audit.warn({ event: 'hostkey_mismatch', session: this.id, ...m }, 'target host key mismatch'),
    });
    if (signal.aborted || this.ended) {
      target.end();
      return;
    }
    this.target = target;
    target.on('error', (err: Error) => this.log.info({ err }, 'target connection error'));
    target.on('close', () => this.send({ type: 'END', reason: 'target_closed' }));
    const { cfg, auditSink, audit } = this.deps;
    this.channels.attachAll(target, { cfg, permission, user: this.record.user, sink: auditSink, audit });
  }

  private noteRecordingFailed(channel: number, why: string): void {
    Object.assign(this.record, { recording: 'failed', recordingError: why });
    this.channels.dirty = true;
    this.channels.say(NOTICES.recordingFailed(why));
    const { user, asset, account } = this.record;
    this.deps.audit.error({ event: 'recording_failed', session: this.id, channel, user, asset, account, why, policy: 'continue' }, 'recording failed; session continues unrecorded');
  }

  private recordState(state: SessionState, idleRemainingMs?: number): void {
    Object.assign(this.record, { state }, idleRemainingMs === undefined ? {} : { idleDeadline: Date.now() + idleRemainingMs });
    const { user, asset, account, idleDeadline } = this.record;
    void this.deps.registry.update(this.id, { state, user, asset, account, idleDeadline, ...this.syncRecord() }).catch((err: unknown) => this.log.warn({ err }, 'registry update failed'));
  }

  // --- the one way out --------------------------------------------------------------------

  private finalise(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    const { audit, registry } = this.deps;
    this.syncRecord();
    const rec = this.record;
    if (rec.kind === 'pending' && rec.user) rec.kind = 'none';
    Object.assign(rec, { reason: end.reason, detail: end.detail && printable(end.detail, 512), by: end.by });
    this.log.info({ reason: end.reason, user: rec.user, asset: rec.asset, channels: rec.channelCount, bytesIn: rec.bytesIn, bytesOut: rec.bytesOut }, 'session ended');
    audit.info({ event: 'session_end', session: this.id, user: rec.user, asset: rec.asset, account: rec.account, reason: end.reason, by: end.by, detail: rec.detail, channels: rec.channelCount }, 'session ended');
    if (end.reason === 'recording_failed') {
      audit.error({ event: 'recording_failed', session: this.id, user: rec.user, asset: rec.asset, account: rec.account, why: end.detail, policy: 'terminate' }, 'recording failed; session closed');
    }

    this.target?.end();
    this.timers.disarm();
    const recordingsClosed = this.channels.closeAudits();
    this.farewell.leave(this.channels.all(), farewellFor(end), rec.user !== '', disconnectFor(end));
    const final = { ...rec, reason: end.reason };
    const finishedAt = Date.now();
    const persisted = registry.finish(final, finishedAt).then(
      () => true,
      (err: unknown) => {
        this.log.warn({ err }, 'registry finish failed; will retry when Redis is back');
        return false;
      },
    );
    const settled = Promise.all([persisted, recordingsClosed.catch(() => {})]).then(([ok]) => ok);
    this.onEnded({ session: this, final: { ...final, finish: finishedAt }, persisted: settled });
  }
}
