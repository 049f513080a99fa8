/**
 * The admin API listener (Fastify, logging through the instance's pino logger): auth on every
 * /api route but login, CSRF on state-changing browser requests, one error shape, small
 * bodies. Routes live in their own modules; this one wires them.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { WardenError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AdminContext } from './admin-context.js';
import { sendError } from './admin-errors.js';
import { healthRoutes } from './admin-health-routes.js';
import { loginRoutes } from './admin-login-routes.js';
import { sessionRoutes } from './admin-session-routes.js';
import { recordingRoutes } from './admin-recording-routes.js';
import { eventsRoutes } from './admin-events-routes.js';
import { watchRoutes } from './admin-watch-route.js';
import { consoleRoutes } from './admin-console-routes.js';

/** Requests are a few fields; anything bigger is refused before it is parsed. */
const BODY_LIMIT = 16 * 1024;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function needsAuth(req: FastifyRequest, ctx: AdminContext): boolean {
  const path = req.url.split('?', 1)[0]!;
  if (path === '/api/login') return false;
  if (path === '/metrics') return ctx.cfg.metricsAuth;
  return path.startsWith('/api/');
}

function authenticate(ctx: AdminContext) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!needsAuth(req, ctx)) return;
    try {
      const who = ctx.auth.identify({ authorization: req.headers.authorization, cookie: req.headers.cookie });
      if (!who) throw new WardenError('ADMIN_UNAUTHENTICATED');
      const csrf = req.headers['x-csrf-token'];
      if (!SAFE_METHODS.has(req.method) && !ctx.auth.csrfOk(who, typeof csrf === 'string' ? csrf : undefined)) throw new WardenError('ADMIN_CSRF');
      req.principal = who;
    } catch (err) {
      return sendError(reply, err, req);
    }
  };
}

export function buildAdminApp(ctx: AdminContext, log: Logger, tls?: { cert: string; key: string }): FastifyInstance {
  const trustProxy = ctx.cfg.trustedProxies.length > 0 ? ctx.cfg.trustedProxies : false;
  const base = { loggerInstance: log, bodyLimit: BODY_LIMIT, routerOptions: { maxParamLength: 128 }, return503OnClosing: true, trustProxy };
  const app = (tls ? Fastify({ ...base, https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } }) : Fastify(base)) as unknown as FastifyInstance;
  app.addHook('onRequest', authenticate(ctx));
  app.setErrorHandler((err, req, reply) => sendError(reply, err, req));
  app.setNotFoundHandler((req, reply) => sendError(reply, new WardenError('NOT_FOUND', `${req.method} ${req.url.slice(0, 100)}`), req));
  loginRoutes(app, ctx);
  sessionRoutes(app, ctx);
  healthRoutes(app, ctx);
  recordingRoutes(app, ctx);
  eventsRoutes(app, ctx);
  consoleRoutes(app);
  // Open event streams would hold the server open: end them before it closes.
  app.addHook('preClose', async () => ctx.events.close());
  void app.register(async (scope) => watchRoutes(scope, ctx));
  return app;
}
