/**
 * Who is calling the admin API. Scripts send `Authorization: Bearer <token>`; browsers log in
 * with a name and password and get an HttpOnly, SameSite=Strict session cookie plus a CSRF
 * token that every state-changing request must echo in `X-CSRF-Token` (a bearer token is not
 * sent by browsers on their own, so it needs none). Sessions live in this process: a browser
 * talks to one instance, and a restart logging everyone out is acceptable.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { WardenError } from '../errors.js';
import { verifyPassword } from '../password.js';
import type { AdminConfig, AdminRole } from './admin-config.js';
import { LoginLimiter } from './login-limiter.js';
import { matchToken } from './tokens.js';

export const SESSION_COOKIE = 'warden_admin';
const MAX_SESSIONS = 10_000;

export interface Principal {
  name: string;
  role: AdminRole;
  via: 'token' | 'session';
  /** For browser sessions: the token state-changing requests must carry. */
  csrf?: string;
}

interface BrowserSession {
  name: string;
  role: AdminRole;
  csrf: string;
  expires: number;
}

/** The value of one cookie from a Cookie header (no library: one name, no attributes). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class AdminAuth {
  private readonly sessions = new Map<string, BrowserSession>();
  private readonly limiter: LoginLimiter;

  constructor(
    private readonly cfg: AdminConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.limiter = new LoginLimiter(cfg.loginAttempts, now);
  }

  /** A browser login: a new session id (for the cookie) and its CSRF token. */
  async login(name: string, password: string, source: string): Promise<{ sid: string; csrf: string; role: AdminRole }> {
    if (this.limiter.blocked(source, name)) throw new WardenError('ADMIN_RATE_LIMITED');
    const admin = Object.hasOwn(this.cfg.admins, name) ? this.cfg.admins[name] : undefined;
    // Unknown names are hashed against a dummy too, so timing does not tell who exists.
    if (!(await verifyPassword(password, admin?.password)) || !admin) {
      this.limiter.fail(source, name);
      throw new WardenError('ADMIN_LOGIN_FAILED');
    }
    const sid = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    this.sessions.set(sid, { name, role: admin.role, csrf, expires: this.now() + this.cfg.sessionTtl });
    this.prune();
    return { sid, csrf, role: admin.role };
  }

  logout(sid: string | undefined): void {
    if (sid) this.sessions.delete(sid);
  }

  /** The caller of a request, from its Authorization or Cookie header; undefined if neither is valid. */
  identify(headers: { authorization?: string; cookie?: string }): Principal | undefined {
    const bearer = /^Bearer\s+(\S{1,512})$/i.exec(headers.authorization ?? '');
    if (bearer) {
      const hit = matchToken(bearer[1]!, this.cfg.tokens);
      return hit && { name: hit[0], role: hit[1].role, via: 'token' };
    }
    const sid = cookieValue(headers.cookie, SESSION_COOKIE);
    const s = sid ? this.sessions.get(sid) : undefined;
    if (!s) return undefined;
    if (s.expires <= this.now()) {
      this.sessions.delete(sid!);
      return undefined;
    }
    s.expires = this.now() + this.cfg.sessionTtl;
    return { name: s.name, role: s.role, via: 'session', csrf: s.csrf };
  }

  /** Browser sessions must echo their CSRF token on anything that changes state. */
  csrfOk(p: Principal, header: string | undefined): boolean {
    return p.via === 'token' || (p.csrf !== undefined && header !== undefined && sameSecret(p.csrf, header));
  }

  private prune(): void {
    if (this.sessions.size <= MAX_SESSIONS) return;
    const t = this.now();
    for (const [sid, s] of this.sessions) if (s.expires <= t) this.sessions.delete(sid);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
  }
}
