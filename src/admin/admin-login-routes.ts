/**
 * Browser login and logout. The session id travels only in an HttpOnly, SameSite=Strict
 * cookie (Secure under TLS, or behind a trusted proxy that says it served HTTPS); the CSRF
 * token is returned in the body for the page to echo. Every attempt is an audit event, the
 * password never is.
 */
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../errors.js';
import { printable } from '../text.js';
import { cookieValue, SESSION_COOKIE } from './admin-auth.js';
import { principalOf, type AdminContext } from './admin-context.js';
import { decode, loginBody } from './admin-input.js';

export function loginRoutes(app: FastifyInstance, ctx: AdminContext): void {
  // req.protocol is the proxy's X-Forwarded-Proto only from a trusted proxy (admin.trustedProxies).
  const secure = (req: { protocol: string }) => (ctx.cfg.tls || req.protocol === 'https' ? '; Secure' : '');

  app.post('/api/login', async (req, reply) => {
    const { name, password } = decode(loginBody, req.body, 'body');
    try {
      const { sid, csrf, role } = await ctx.auth.login(name, password, req.ip);
      ctx.audit.info({ event: 'admin_login', admin: name, role, remote: req.ip }, 'admin logged in');
      const maxAge = Math.floor(ctx.cfg.sessionTtl / 1000);
      return reply
        .header('set-cookie', `${SESSION_COOKIE}=${sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure(req)}`)
        .send({ name, role, csrfToken: csrf });
    } catch (err) {
      if (err instanceof WardenError) {
        ctx.metrics.adminLoginFailures.inc();
        ctx.audit.info({ event: 'admin_login_failed', admin: printable(name, 64), remote: req.ip, why: err.code }, 'admin login failed');
      }
      throw err;
    }
  });

  app.post('/api/logout', async (req, reply) => {
    const who = principalOf(req);
    ctx.auth.logout(cookieValue(req.headers.cookie, SESSION_COOKIE));
    ctx.audit.info({ event: 'admin_logout', admin: who.name, remote: req.ip }, 'admin logged out');
    return reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure(req)}`).send({ ok: true });
  });

  // A reloaded console page needs its CSRF token again: only a same-origin page can read this
  // answer (no CORS), so handing it to the cookie's owner is what login did.
  app.get('/api/me', async (req) => {
    const { name, role, via, csrf } = principalOf(req);
    return via === 'session' ? { name, role, via, csrfToken: csrf } : { name, role, via };
  });
}
