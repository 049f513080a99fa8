/**
 * Sessions, instances and commands: reads straight from the registry (fleet-wide, whichever
 * instance answers), and kills through the same control path as `warden kill`
 * (ControlClient: find the owner, queue the job, await its acknowledgement).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { queryCommands } from '../audit/audit-queues.js';
import { queryAudit } from '../audit/audit-stream.js';
import type { KillReport } from '../control-client.js';
import { WardenError } from '../errors.js';
import type { SessionRecord } from '../session-record.js';
import { printable } from '../text.js';
import { principalOf, type AdminContext } from './admin-context.js';
import { recordedChannels } from './recording-source.js';
import { commandsQuery, decode, killBody, sessionIdParam, sessionsQuery, userParam } from './admin-input.js';

const KILL_TIMEOUT_MS = 5_000;

function matches(r: SessionRecord, q: string): boolean {
  const needle = q.toLowerCase();
  return [r.id, r.user, r.asset, r.account, r.remote, r.instance, r.command ?? ''].some((f) => f.toLowerCase().includes(needle));
}

function requireOperator(req: FastifyRequest): void {
  if (principalOf(req).role !== 'operator') throw new WardenError('ADMIN_FORBIDDEN');
}

export function sessionRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const { registry } = ctx;

  const kill = async (req: FastifyRequest, sessionId: string, reason: string | undefined): Promise<KillReport> => {
    const who = principalOf(req);
    const report = await ctx.control.kill(sessionId, { by: who.name, reason, timeoutMs: KILL_TIMEOUT_MS });
    if (report.outcome === 'killed') ctx.metrics.killLatency.observe(report.totalMs / 1000);
    ctx.audit.info(
      { event: 'admin_kill', admin: who.name, via: who.via, remote: req.ip, session: sessionId, reason: reason && printable(reason, 200), outcome: report.outcome, instance: report.instance },
      'admin killed a session',
    );
    return report;
  };

  app.get('/api/sessions', async (req) => {
    const f = decode(sessionsQuery, req.query, 'query');
    const all = f.state === 'live' ? await registry.listLive() : await registry.listRecent(f.limit);
    const sessions = all.filter(
      (r) => (!f.user || r.user === f.user) && (!f.asset || r.asset === f.asset) && (!f.instance || r.instance === f.instance) && (!f.q || matches(r, f.q)),
    );
    return { state: f.state, sessions: sessions.slice(0, f.limit) };
  });

  app.get('/api/sessions/:id', async (req) => {
    const id = await registry.resolve(decode(sessionIdParam, req.params, 'path').id);
    const session = await registry.get(id);
    if (!session) throw new WardenError('SESSION_NOT_FOUND', `"${id}" has expired from the registry`);
    const [commands, audit] = await Promise.all([
      queryCommands(ctx.redis, registry.keys, { session: id, limit: 1000 }),
      queryAudit(ctx.redis, registry.keys, { session: id, since: session.start, limit: 1000 }),
    ]);
    return { session, channels: recordedChannels(session), commands, audit };
  });

  app.post('/api/sessions/:id/kill', async (req, reply) => {
    requireOperator(req);
    const prefix = decode(sessionIdParam, req.params, 'path').id;
    const { reason } = decode(killBody, req.body, 'body');
    const id = await registry.resolve(prefix);
    const report = await kill(req, id, reason);
    return reply.code(report.outcome === 'timeout' ? 504 : report.outcome === 'not_found' ? 404 : 200).send({ acknowledgement: report });
  });

  app.post('/api/users/:name/kill', async (req) => {
    requireOperator(req);
    const { name } = decode(userParam, req.params, 'path');
    const { reason } = decode(killBody, req.body, 'body');
    const ids = (await registry.listLive()).filter((r) => r.user === name).map((r) => r.id);
    return { user: name, acknowledgements: await Promise.all(ids.map((id) => kill(req, id, reason))) };
  });

  // The same shape as `warden terminals --json`.
  app.get('/api/instances', async () => {
    const [instances, counters] = await Promise.all([ctx.instances.list(), ctx.counters.read()]);
    return { instances, counters };
  });

  app.get('/api/commands', async (req) => {
    const f = decode(commandsQuery, req.query, 'query');
    let grep: RegExp | undefined;
    try {
      grep = f.grep === undefined ? undefined : new RegExp(f.grep);
    } catch (err) {
      throw new WardenError('BAD_REQUEST', `grep: ${(err as Error).message}`);
    }
    return { commands: await queryCommands(ctx.redis, registry.keys, { session: f.session, user: f.user, asset: f.asset, grep, since: f.since, until: f.until, limit: f.limit }) };
  });
}
