/**
 * The fleet as it happens and as it was: GET /api/events streams fleet events as Server-Sent
 * Events (event-hub.ts), GET /api/audit reads the fleet's audit stream (audit-stream.ts).
 * Both are reads: cookie or bearer, any role.
 */
import type { FastifyInstance } from 'fastify';
import { queryAudit } from '../audit/audit-stream.js';
import type { AdminContext } from './admin-context.js';
import { decode, instant, pageLimit, sessionIdPrefix } from './admin-input.js';
import * as z from '../zod.js';

export const auditQuery = z.strictObject({
  user: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.@-]{1,64}$/))),
  session: z.optional(sessionIdPrefix),
  event: z.optional(z.string().check(z.regex(/^[a-z_]{1,64}$/))),
  since: z.optional(instant),
  limit: pageLimit,
});

export function eventsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/api/audit', async (req) => {
    const q = decode(auditQuery, req.query, 'query');
    return { events: await queryAudit(ctx.redis, ctx.registry.keys, q) };
  });

  app.get('/api/events', async (_req, reply) => {
    // Refused before any byte is sent, so the error is a normal JSON answer.
    await ctx.events.reserve();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 3000\n: connected to ${ctx.id}\n\n`);
    ctx.events.attach(res);
  });
}
