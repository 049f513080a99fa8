/**
 * Recordings through the API, from whichever instance holds the file. The instance that
 * answers the admin serves its own recordings straight from disk and proxies the others' to
 * their owner (recording-proxy.ts); the owner's internal route (/fleet/...) serves only its
 * own disk and never proxies further, so requests cannot loop. The hash-chain verdict travels
 * in a header; every download is an audit event on the instance the admin asked.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardenError } from '../errors.js';
import { principalOf, type AdminContext } from './admin-context.js';
import { decode, sessionIdParam } from './admin-input.js';
import { FLEET_HEADER, fleetSecret, verifyFleetRequest } from './fleet-auth.js';
import { fetchFromOwner, fleetRecordingPath, passedHeaders, recordingOwner } from './recording-proxy.js';
import { headerText, localRecording, pickChannel } from './recording-source.js';
import * as z from '../zod.js';

const channelNumber = z.coerce.number().check(z.int(), z.minimum(1), z.maximum(2 ** 31 - 1));
const recordingQuery = z.strictObject({ channel: z.optional(channelNumber) });
const fleetParams = z.strictObject({ id: z.string().check(z.regex(/^[0-9A-Z]{26}$/, 'a full session id')), channel: channelNumber });

async function serveLocal(ctx: AdminContext, sessionId: string, channel: number, reply: FastifyReply): Promise<{ verdict: string }> {
  const rec = await ctx.registry.get(sessionId);
  if (!rec) throw new WardenError('SESSION_NOT_FOUND', `"${sessionId}" has expired from the registry`);
  const r = await localRecording(ctx.recordings, rec, channel);
  reply
    .header('content-type', 'application/x-asciicast')
    .header('content-disposition', `attachment; filename="${rec.id}.${channel}.cast"`)
    .header('x-warden-recording-verdict', r.verdict.status)
    .header('x-warden-recording-detail', headerText(r.verdict.text))
    .header('x-warden-recording-channel', String(channel))
    .header('x-warden-recording-instance', ctx.id)
    .header('x-warden-recording-state', r.live ? 'live' : 'finished');
  void reply.send(r.open());
  return { verdict: r.verdict.status };
}

export function recordingRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/api/sessions/:id/recording', async (req, reply) => {
    const prefix = decode(sessionIdParam, req.params, 'path').id;
    const q = decode(recordingQuery, req.query, 'query');
    const id = await ctx.registry.resolve(prefix);
    const rec = await ctx.registry.get(id);
    if (!rec) throw new WardenError('SESSION_NOT_FOUND', `"${id}" has expired from the registry`);
    const channel = pickChannel(rec, q.channel);
    const who = principalOf(req);
    const audit = (verdict: string, proxied: boolean) =>
      ctx.audit.info(
        { event: 'recording_download', admin: who.name, via: who.via, remote: req.ip, session: id, user: rec.user, channel, holder: rec.instance, proxied, verdict },
        'admin downloaded a recording',
      );
    if (rec.instance === ctx.id) {
      const { verdict } = await serveLocal(ctx, id, channel, reply);
      audit(verdict, false);
      return reply;
    }
    const owner = await recordingOwner(ctx, rec.instance);
    const res = await fetchFromOwner(ctx, owner, fleetRecordingPath(id, channel), who.name);
    const status = res.statusCode ?? 502;
    if (status === 200) audit(String(res.headers['x-warden-recording-verdict'] ?? 'unknown'), true);
    // The owner refusing our signature is our fault, not the admin's: never a 401 to them.
    return reply.code(status === 401 ? 502 : status).headers(passedHeaders(res)).send(res);
  });

  const fleetAuth = async (req: FastifyRequest): Promise<void> => {
    const header = req.headers[FLEET_HEADER];
    const claim = verifyFleetRequest(await fleetSecret(ctx.redis, ctx.registry.keys), req.method, req.url, typeof header === 'string' ? header : undefined);
    if (!claim) throw new WardenError('FLEET_UNAUTHENTICATED');
    req.log.info({ from: claim.from, admin: claim.admin, url: req.url }, 'recording requested by another instance');
  };

  app.get('/fleet/recordings/:id/:channel', { onRequest: fleetAuth }, async (req, reply) => {
    const p = decode(fleetParams, req.params, 'path');
    await serveLocal(ctx, p.id, p.channel, reply);
    return reply;
  });
}
