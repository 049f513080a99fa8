/**
 * The login of one connection: each ssh2 authentication attempt gets a verdict (with the
 * fleet-wide source penalty), failures are counted by the session machine, and a success
 * leads to the login's outcome (target, menu, refusal), which the machine routes.
 */
import type { AuthContext } from 'ssh2';
import type { LoginOutcome } from '../machines/session.types.js';
import type { AuthPenalty } from './auth-penalty.js';
import { parseLoginName, type Permission } from './grants.js';
import type { Logger } from './logger.js';
import { loginOutcome, verdictFor, type LoginChecks } from './session-auth.js';
import { printable } from './text.js';

const AUTH_METHODS: Array<'publickey' | 'password'> = ['publickey', 'password'];

export interface LoginHost {
  readonly sessionId: string;
  readonly remote: string;
  /** True once the session has ended: attempts still in flight are refused. */
  ended(): boolean;
  /** A counted failure; returns whether it ended the session (MaxAuthTries). */
  failed(): boolean;
  authenticated(user: string, outcome: LoginOutcome<Permission>): void;
}

export class SessionLogin {
  /** Looked up once per connection, at its first authentication attempt. */
  private sourceBlocked?: Promise<boolean>;

  constructor(
    private readonly deps: LoginChecks & { penalty?: AuthPenalty; audit: Logger; log: Logger },
    private readonly host: LoginHost,
  ) {}

  attempt(ctx: AuthContext): void {
    const { penalty, audit, log } = this.deps;
    const { remote, sessionId } = this.host;
    this.sourceBlocked ??= penalty ? penalty.blocked(remote) : Promise.resolve(false);
    verdictFor(this.deps.cfg, parseLoginName(ctx.username).user, ctx, this.sourceBlocked).then(
      (verdict) => {
        if (this.host.ended()) return ctx.reject([], false);
        if (verdict.kind === 'pk-ok') return ctx.accept();
        if (verdict.kind === 'accept') {
          ctx.accept();
          return void this.succeeded(ctx.username, ctx.method);
        }
        if (verdict.blocked && verdict.counts) log.warn({ remote }, 'source refused: too many failed logins');
        if (!verdict.counts) return ctx.reject(AUTH_METHODS);
        penalty?.failed(remote);
        audit.info({ event: 'auth_failure', session: sessionId, login: printable(ctx.username), method: ctx.method, why: verdict.why, remote }, 'authentication failed');
        // The last allowed failure ends the session (with OpenSSH's "Too many authentication
        // failures" disconnect): no failure reply that would invite one more try.
        if (!this.host.failed()) ctx.reject(AUTH_METHODS);
      },
      (err: unknown) => {
        log.error({ err }, 'authentication check failed');
        ctx.reject(AUTH_METHODS);
      },
    );
  }

  private async succeeded(rawLogin: string, method: string): Promise<void> {
    const user = parseLoginName(rawLogin).user;
    const { audit } = this.deps;
    const { sessionId, remote } = this.host;
    audit.info({ event: 'auth_success', session: sessionId, user, method, remote }, 'authenticated');
    const outcome = await loginOutcome(this.deps, user, rawLogin);
    if (outcome.kind === 'denied') {
      audit.info({ event: 'denied', session: sessionId, user, login: printable(rawLogin), why: outcome.message }, 'target refused');
    }
    this.host.authenticated(user, outcome);
  }
}
