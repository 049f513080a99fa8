/**
 * Fetching a recording from the instance that holds it (as Warpgate proxies admin requests to
 * the node that owns a session): a GET to the owner's internal route, signed with the fleet
 * secret (fleet-auth.ts; the admin's own cookie or token never leaves this instance), whose
 * response is streamed through, never buffered. An owner that is no longer registered, has
 * lost its lease or does not answer is reported as gone, in words.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { WardenError } from '../errors.js';
import type { InstanceInfo } from '../instance-registry.js';
import type { AdminContext } from './admin-context.js';
import { FLEET_HEADER, fleetSecret, signFleetRequest } from './fleet-auth.js';

/** Until the owner's response headers: it verifies the recording first (one read of the file). */
const PROXY_TIMEOUT_MS = 30_000;
/** Response headers passed through to the admin. */
const PASS = ['content-type', 'content-disposition', 'x-warden-recording-verdict', 'x-warden-recording-detail', 'x-warden-recording-channel', 'x-warden-recording-instance', 'x-warden-recording-state'];

export function fleetRecordingPath(sessionId: string, channel: number): string {
  return `/fleet/recordings/${sessionId}/${channel}`;
}

/** The owner of a session's recordings, or RECORDING_INSTANCE_GONE saying why it cannot be asked. */
export async function recordingOwner(ctx: AdminContext, instanceId: string): Promise<InstanceInfo & { adminUrl: string }> {
  const owner = await ctx.instances.get(instanceId);
  if (!owner) throw new WardenError('RECORDING_INSTANCE_GONE', `instance "${instanceId}" is no longer registered`);
  if (!owner.alive) throw new WardenError('RECORDING_INSTANCE_GONE', `instance "${instanceId}" has lost its lease`);
  if (!owner.adminUrl) throw new WardenError('RECORDING_NOT_FOUND', `instance "${instanceId}" has no admin API to fetch it from; read it there with \`warden replay\``);
  return owner;
}

/** GET the recording from the owner; resolves with its response (status and headers, body unread). */
export async function fetchFromOwner(ctx: AdminContext, owner: InstanceInfo, path: string, admin: string): Promise<IncomingMessage> {
  const secret = await fleetSecret(ctx.redis, ctx.registry.keys);
  const url = new URL(path, owner.adminUrl);
  const headers = { [FLEET_HEADER]: signFleetRequest(secret, 'GET', path, { from: ctx.id, admin }) };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, timeout: PROXY_TIMEOUT_MS });
    const gone = (why: string) => reject(new WardenError('RECORDING_INSTANCE_GONE', `instance "${owner.id}" at ${owner.adminUrl} does not answer (${why})`));
    req.on('timeout', () => {
      req.destroy();
      gone(`no answer in ${PROXY_TIMEOUT_MS / 1000} s`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => gone(err.code ?? err.message));
    req.on('response', (res) => {
      req.setTimeout(0);
      resolve(res);
    });
    req.end();
  });
}

/** The headers of the owner's answer that the admin gets too. */
export function passedHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASS) {
    const v = res.headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}
