/**
 * Health for load balancers and orchestrators, and metrics for Prometheus. /healthz: the
 * process answers. /readyz: this listener is up, Redis answers a PING within a deadline and
 * the instance holds its lease; otherwise 503 naming what is wrong.
 */
import type { FastifyInstance } from 'fastify';
import { withTimeout } from '../timeout.js';
import type { AdminContext } from './admin-context.js';
import { errorBody } from './admin-errors.js';

const READY_DEADLINE_MS = 1_000;

async function notReady(ctx: AdminContext): Promise<string[]> {
  const problems: string[] = [];
  if (!ctx.listening()) problems.push('admin listener not listening');
  const pong = ctx.redis.status === 'ready' ? await withTimeout(ctx.redis.ping().catch(() => undefined), READY_DEADLINE_MS) : undefined;
  if (pong !== 'PONG') {
    problems.push(`redis not reachable (${ctx.redis.status})`);
    return problems;
  }
  const lease = await withTimeout(ctx.instances.alive(ctx.id).catch(() => undefined), READY_DEADLINE_MS);
  if (lease !== true) problems.push('instance lease not held');
  return problems;
}

export function healthRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/healthz', async () => ({ ok: true, instance: ctx.id }));

  app.get('/readyz', async (_req, reply) => {
    const problems = await notReady(ctx);
    if (problems.length === 0) return { ready: true, instance: ctx.id };
    return reply.code(503).send({ ready: false, instance: ctx.id, ...errorBody('NOT_READY', `This instance is not ready: ${problems.join('; ')}`) });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.register.metrics();
    return reply.header('content-type', ctx.metrics.register.contentType).send(text);
  });
}
