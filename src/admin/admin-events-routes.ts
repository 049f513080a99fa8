/**
 * The fleet as it happens and as it was: GET /api/events streams fleet events as Server-Sent
 * Events (event-hub.ts), GET /api/audit reads the fleet's audit stream (audit-stream.ts).
 * Both are reads: cookie or bearer, any role.
 */
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { queryAudit } from '../audit/audit-stream.js';
import type { AdminContext } from './admin-context.js';
import { decode, instant } from './admin-input.js';

export const auditQuery = z
  .object({
    user: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/).optional(),
    session: z.string().regex(/^[0-9A-Za-z]{1,26}$/).optional(),
    event: z.string().regex(/^[a-z_]{1,64}$/).optional(),
    since: instant.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

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
