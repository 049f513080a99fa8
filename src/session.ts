/**
 * One SSH connection through Warden: the ssh2 server connection, its session actor (the
 * machine in machines/session.machine.ts with effects provided here), the channel relays and
 * the target connection. The machine decides; this class does.
 *
 * The data path (relay hooks) only bumps in-memory counters; the registry sees activity
 * through the supervisor's periodic flush.
 */
import type { AuthContext, Client, Connection, Session as SshSession } from 'ssh2';
import { createActor, fromPromise, type Actor } from 'xstate';
import { sessionMachine, type ConnectInput } from '../machines/session.machine.js';
import type { EndReason, SessionEnd, SessionEvent } from '../machines/session.types.js';
import { ChannelRelay, type RelayHooks } from './channel-relay.js';
import type { Config } from './config.js';
import { endMessage } from './errors.js';
import { parseLoginName, permissionsFor, resolveTarget, type Permission } from './grants.js';
import type { HostKeyStore } from './hostkeys.js';
import { newSessionId } from './ids.js';
import type { Logger } from './logger.js';
import type { Registry, SessionRecord } from './registry.js';
import { verdictFor } from './session-auth.js';
import { SessionTimers, type Scheduler } from './session-timers.js';
import { auditChannel, type SessionAudit } from './audit/session-audit.js';
import type { AuditSink } from './audit/audit-queues.js';
import type { AuthPenalty } from './auth-penalty.js';
import { join } from 'node:path';
import type { Counters } from './counters.js';
import { Farewell } from './session-farewell.js';
import { connectTarget } from './target-connector.js';
import { runMenu } from './target-menu.js';
import { printable } from './text.js';

export interface SessionDeps {
  cfg: Config;
  penalty?: AuthPenalty;
  /** Where recordings and command log entries go (BullMQ audit queues). */
  auditSink?: AuditSink;
  /** Where idle and max-duration checks are scheduled (the control queue). */
  scheduler?: Scheduler;
  counters?: Counters;
  /** False while Redis is unreachable: new logins are then refused unless configured. */
  registryAvailable(): boolean;
  registry: Registry;
  hostKeys: HostKeyStore;
  instanceId: string;
  log: Logger;
  audit: Logger;
  /** Keep a final record that could not be written; it is written when Redis is back. */
  persistLater(record: SessionRecord & { reason: EndReason }): void;
  /** Called once, when the session has ended; `persisted` settles when the record is final. */
  onFinished(session: Session, persisted: Promise<void>): void;
}

/** Reasons where Warden, not the peer, ends things: the user is told why. */
const QUIET_REASONS = new Set(['client_closed', 'auth_failed', 'auth_timeout']);

export class Session {
  readonly id = newSessionId();
  readonly record: SessionRecord;
  readonly actor: Actor<typeof sessionMachine>;
  readonly log: Logger;
  private readonly relays = new Set<ChannelRelay>();
  private readonly audits = new Map<ChannelRelay, SessionAudit>();
  private permission?: Permission;
  private target?: Client;
  private ended = false;
  private idle = false;
  private readonly farewell: Farewell;
  /** Activity in memory (as the grant's policy defines it); flushed to Redis coarsely. */
  lastActivityAt: number;
  dirty = false;
  readonly timers: SessionTimers;
  /** Settles once the session has ended and its record is final (or could not be written). */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(
    private readonly client: Connection,
    remote: string,
    private readonly deps: SessionDeps,
  ) {
    const now = Date.now();
    this.lastActivityAt = now;
    this.farewell = new Farewell(client);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.log = deps.log.child({ session: this.id });
    this.record = {
      id: this.id, user: '', asset: '', account: '', remote, instance: deps.instanceId,
      kind: 'pending', state: 'authenticating', start: now, lastActivity: now, bytesIn: 0, bytesOut: 0,
    };
    const { cfg } = deps;
    this.actor = createActor(
      sessionMachine.provide({
        actions: {
          recordState: (_, { state }) => this.recordState(state),
          startSelection: () => this.startMenu(),
          warnIdle: (_, p) => this.warnIdle(p.idleMs, p.remainingMs),
          warnDuration: (_, p) => this.sayAll(`Warden: this session reaches its maximum duration in ${Math.ceil(p.remainingMs / 1000)}s.`),
          finalise: (_, end) => this.finalise(end),
        },
        actors: { connectTarget: fromPromise<void, ConnectInput>(({ signal }) => this.dial(signal)) },
      }),
      {
        input: {
          sessionId: this.id,
          loginGraceMs: cfg.auth.loginGraceTime,
          connectTimeoutMs: cfg.target.connectTimeout + 1_000,
          maxAuthTries: cfg.auth.maxTries,
        },
      },
    );
    this.timers = new SessionTimers(
      { id: this.id, lastActivity: () => this.lastActivityAt, send: (e) => this.send(e) },
      deps.scheduler,
      (counter) => deps.counters?.add(counter),
    );
    // An error inside the actor (a throwing action) must end this session, never the process.
    this.actor.subscribe({ error: (err) => this.finalise({ reason: 'error', detail: (err as Error).message ?? String(err) }) });
    this.wire();
  }

  start(): void {
    void this.deps.registry.open(this.record).catch((err) => this.log.warn({ err: (err as Error).message }, 'registry open failed'));
    this.actor.start();
  }

  /** Deliver an END (kill, shutdown, idle timeout...) through the machine's one way out. */
  end(end: SessionEnd): void {
    this.send({ type: 'END', ...end });
  }

  send(event: SessionEvent): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send(event);
  }

  get state(): string {
    return this.actor.getSnapshot().value as string;
  }

  private wire(): void {
    const c = this.client;
    c.on('error', (err: Error) => {
      // ssh2 reports protocol violations here and half-closes; the session ends with them.
      this.log.info({ err: printable(err.message) }, 'client connection error');
      this.end({ reason: this.record.user ? 'error' : 'auth_failed', detail: 'protocol error' });
    });
    c.on('close', () => this.end({ reason: 'client_closed' }));
    c.on('authentication', (ctx) => this.authenticate(ctx));
    c.on('session', (accept, reject) => {
      if (this.ended && !this.farewell.waiting) return reject();
      this.addRelay(accept());
    });
    c.on('tcpip', (_accept, reject, info) => {
      reject();
      this.sayAll(`Warden: port forwarding to ${printable(info.destIP, 64)}:${info.destPort} is not allowed.`);
      this.deps.audit.info({ event: 'forward_refused', session: this.id, dest: `${printable(info.destIP, 64)}:${info.destPort}` }, 'port forwarding refused');
    });
    c.on('request', (_accept, reject, name) => {
      reject?.();
      this.sayAll(`Warden: ${name === 'tcpip-forward' ? 'remote port forwarding' : 'that request'} is not allowed.`);
    });
  }

  // --- authentication -------------------------------------------------------------------

  /** Looked up once per connection, at its first authentication attempt. */
  private sourceBlocked?: Promise<boolean>;

  private authenticate(ctx: AuthContext): void {
    const login = parseLoginName(ctx.username);
    const methods: Array<'publickey' | 'password'> = ['publickey', 'password'];
    const { penalty } = this.deps;
    this.sourceBlocked ??= penalty ? penalty.blocked(this.record.remote) : Promise.resolve(false);
    verdictFor(this.deps.cfg, login.user, ctx, this.sourceBlocked).then(
      (verdict) => {
        if (this.ended) return ctx.reject([], false);
        if (verdict.kind === 'pk-ok') return ctx.accept();
        if (verdict.kind === 'accept') {
          ctx.accept();
          return this.onAuthenticated(login.user, ctx.username, ctx.method);
        }
        ctx.reject(methods);
        if (verdict.blocked && verdict.counts) this.log.warn({ remote: this.record.remote }, 'source refused: too many failed logins');
        if (!verdict.counts) return;
        penalty?.failed(this.record.remote);
        this.deps.audit.info({ event: 'auth_failure', session: this.id, login: printable(ctx.username), method: ctx.method, why: verdict.why, remote: this.record.remote }, 'authentication failed');
        this.actor.send({ type: 'AUTH_FAILED' });
      },
      (err: Error) => {
        this.log.error({ err: err.message }, 'authentication check failed');
        ctx.reject(methods);
      },
    );
  }

  private onAuthenticated(user: string, rawLogin: string, method: string): void {
    const { cfg, audit } = this.deps;
    this.record.user = user;
    this.deps.audit.info({ event: 'auth_success', session: this.id, user, method, remote: this.record.remote }, 'authenticated');
    if (!this.deps.registryAvailable() && !cfg.registry.allowLoginsWhenUnavailable) {
      this.actor.send({ type: 'AUTHENTICATED', user });
      return this.end({ reason: 'unavailable' });
    }
    const res = resolveTarget(permissionsFor(cfg, user), parseLoginName(rawLogin));
    if (res.kind === 'denied') {
      audit.info({ event: 'denied', session: this.id, user, login: printable(rawLogin), why: res.message }, 'target refused');
      this.actor.send({ type: 'AUTHENTICATED', user });
      this.end({ reason: 'denied', detail: res.message });
    } else if (res.kind === 'target') {
      this.permission = res.permission;
      this.record.asset = res.permission.asset;
      this.record.account = res.permission.account;
      this.actor.send({ type: 'AUTHENTICATED', user, target: { asset: res.permission.asset, account: res.permission.account } });
    } else {
      this.menuChoices = res.choices;
      this.actor.send({ type: 'AUTHENTICATED', user });
    }
  }

  // --- menu -------------------------------------------------------------------------------

  private menuChoices: Permission[] = [];
  private menuRelay?: ChannelRelay;

  /** Runs when the machine enters `selecting`, and again when the first channel arrives. */
  private startMenu(): void {
    if (this.state !== 'selecting' || this.menuRelay) return;
    const relay = [...this.relays].find((r) => r.stream);
    if (!relay) return; // wait for the client's channel
    if (relay.kind !== 'shell') {
      return this.end({ reason: 'denied', detail: `name a target to run a command, e.g. ssh ${printable(this.record.user, 64)}@ACCOUNT@ASSET@bastion '...'` });
    }
    this.menuRelay = relay;
    runMenu(relay.stream!, this.record.user, this.menuChoices, {
      onQuit: () => this.end({ reason: 'client_closed', detail: 'left the menu' }),
      onPick: (p) => {
        this.permission = p;
        this.record.asset = p.asset;
        this.record.account = p.account;
        this.actor.send({ type: 'TARGET_SELECTED', target: { asset: p.asset, account: p.account } });
      },
    });
  }

  // --- target -----------------------------------------------------------------------------

  private async dial(signal: AbortSignal): Promise<void> {
    const permission = this.permission!;
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
    target.on('error', (err: Error) => this.log.info({ err: err.message }, 'target connection error'));
    target.on('close', () => this.end({ reason: 'target_closed' }));
    for (const relay of this.relays) this.attach(relay, target);
  }

  /** Open the relay's channel on the target, with recording, command log and filter. */
  private attach(relay: ChannelRelay, target: Client): void {
    if (!relay.stream || this.ended) return;
    const { cfg, auditSink } = this.deps;
    if (auditSink && this.permission) {
      const { audit, refused } = auditChannel(relay, {
        sessionId: this.id, user: this.record.user, asset: this.record.asset, account: this.record.account,
        rules: this.permission.commands, record: cfg.recording.enabled,
        recordingsDir: cfg.recording.dir ?? join(cfg.dataDir, 'recordings'), recordInput: cfg.recording.input,
        sink: auditSink, audit: this.deps.audit, log: this.log,
      });
      if (audit) this.audits.set(relay, audit);
      if (refused) {
        relay.say(`${refused}\n`);
        return relay.end(1);
      }
    }
    relay.attach(target);
  }

  // --- channels ---------------------------------------------------------------------------

  private readonly hooks: RelayHooks = {
    onStart: (relay) => {
      if (this.farewell.waiting) return this.farewell.onChannel(relay);
      if (this.record.kind === 'pending') {
        this.record.kind = relay.kind;
        if (relay.command) this.record.command = printable(relay.command, 1024);
        this.dirty = true;
      }
      if (this.state === 'selecting') this.startMenu();
      else if (this.target) this.attach(relay, this.target);
    },
    onInput: (relay, data) => {
      this.audits.get(relay)?.input(data);
      this.lastActivityAt = Date.now();
      this.record.bytesIn += data.length;
      this.dirty = true;
      if (this.idle) this.activity();
    },
    onOutput: (relay, data) => {
      this.audits.get(relay)?.output(data);
      this.record.bytesOut += data.length;
      this.dirty = true;
      // Transfers (sftp, scp) count as activity in both directions: a long download is not
      // idle. Terminal output counts only when the policy says input+output.
      if (relay.kind === 'sftp' || (relay.kind === 'exec' && !relay.pty) || this.permission?.policy.idleActivity === 'input+output') {
        this.lastActivityAt = Date.now();
        if (this.idle) this.activity();
      }
    },
    onResize: (relay, cols, rows) => this.audits.get(relay)?.resize(cols, rows),
    onExit: (_relay, status) => {
      this.record.exitStatus ??= status;
    },
    onClose: (relay) => {
      this.relays.delete(relay);
    },
  };

  private addRelay(session: SshSession): void {
    this.relays.add(new ChannelRelay(session, this.hooks, this.log));
  }

  private activity(): void {
    this.idle = false;
    this.actor.send({ type: 'ACTIVITY' });
  }

  private warnIdle(idleMs: number, remainingMs: number): void {
    this.idle = true;
    this.sayAll(`Idle for ${Math.round(idleMs / 1000)}s: this session closes in ${Math.ceil(remainingMs / 1000)}s. Press any key to stay.`);
  }

  private sayAll(text: string): void {
    for (const relay of this.relays) relay.say(`\r\n${text}\r\n`);
  }

  private recordState(state: SessionRecord['state']): void {
    this.record.state = state;
    if (state === 'proxying' && this.permission && !this.timers.armed) {
      // The idle clock starts when the user can use the session, not at the TCP accept: a
      // slow target login must not eat into the user's idle allowance.
      this.lastActivityAt = Date.now();
      this.timers.arm(this.permission.policy);
    }
    const { user, asset, account, kind } = this.record;
    void this.deps.registry.update(this.id, { state, user, asset, account, kind }).catch((err) => this.log.warn({ err: (err as Error).message }, 'registry update failed'));
  }

  // --- the one way out --------------------------------------------------------------------

  private finalise(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.idle = false;
    const { audit, registry } = this.deps;
    const rec = this.record;
    Object.assign(rec, { reason: end.reason, detail: end.detail && printable(end.detail, 512), by: end.by, lastActivity: this.lastActivityAt });
    this.log.info({ reason: end.reason, user: rec.user, asset: rec.asset, bytesIn: rec.bytesIn, bytesOut: rec.bytesOut }, 'session ended');
    audit.info({ event: 'session_end', session: this.id, user: rec.user, asset: rec.asset, account: rec.account, reason: end.reason, by: end.by, detail: rec.detail }, 'session ended');

    this.target?.end();
    const recordingsClosed = Promise.all([...this.audits.values()].map((a) => a.close()));
    const message = QUIET_REASONS.has(end.reason) || end.reason === 'target_closed' ? undefined : endMessage(end);
    this.farewell.leave(this.relays, message, rec.user !== '');
    const final = { ...rec, reason: end.reason };
    const persisted = registry
      .finish(final)
      .then(
        () => {},
        (err) => {
          this.log.warn({ err: (err as Error).message }, 'registry finish failed; will retry when Redis is back');
          this.deps.persistLater(final);
        },
      )
      .then(() => recordingsClosed)
      .then(() => {}, () => {})
      .finally(() => this.resolveFinished());
    this.deps.onFinished(this, persisted);
  }
}
