/**
 * Two Warden processes sharing one Redis and one target sshd, each with an admin API: the
 * fleet the admin, fleet-API and watch tests run against. The admin listener binds port 0 and
 * the address is read back from the "admin API listening" log line, so no other process can
 * take a port between picking and binding.
 */
import { hashToken } from '../../src/admin/tokens.js';
import { waitUntil } from './processes.js';
import { startRedis, uniquePrefix, type RedisHandle } from './redis.js';
import { startSshd, type SshdHandle } from './sshd.js';
import { spawnWarden, type WardenProcess } from './warden-process.js';

export const FLEET_TIMING = 'instance: { heartbeatInterval: 500ms, lease: 2s, reaperInterval: 500ms }';

export interface AdminFleet {
  redis: RedisHandle;
  sshd: SshdHandle;
  prefix: string;
  a: WardenProcess;
  b: WardenProcess;
  /** Base URLs of A's and B's admin APIs, e.g. http://127.0.0.1:41234. */
  apiA: string;
  apiB: string;
  stop(): Promise<void>;
}

/** `tokens:` lines for the admin section: name → [secret, role]. */
export function tokenLines(tokens: Record<string, [string, 'operator' | 'viewer']>): string {
  return Object.entries(tokens)
    .map(([name, [secret, role]]) => `    ${name}: { hash: "${hashToken(secret)}", role: ${role} }`)
    .join('\n');
}

/** The admin API's base URL, from the instance's own log. */
export async function adminUrlOf(w: WardenProcess): Promise<string> {
  let url = '';
  await waitUntil('admin API listening', async () => {
    for (const line of w.log().split('\n')) {
      if (!line.includes('"admin API listening"')) continue;
      try {
        url = (JSON.parse(line) as { address?: string }).address ?? '';
      } catch {
        // not JSON: keep looking
      }
    }
    return url !== '';
  }, { timeoutMs: 30_000 });
  return url;
}

/**
 * Start the fleet. `admin` is the body of the admin section without `listen` (two-space
 * indented lines: admins, tokens, options); `extraYaml` more top-level YAML for both;
 * `extraGrants` more grant lines (each starting with "  - ").
 */
export async function startAdminFleet(opts: { ids: [string, string]; admin: string; extraYaml?: string; extraGrants?: string }): Promise<AdminFleet> {
  const [redis, sshd] = await Promise.all([startRedis(), startSshd()]);
  const prefix = uniquePrefix();
  const yaml = `\n${FLEET_TIMING}\n${opts.extraYaml ?? ''}\nadmin:\n  listen: 127.0.0.1:0\n${opts.admin}\n`;
  const [a, b] = await Promise.all(opts.ids.map((instanceId) => spawnWarden({ redisUrl: redis.url, sshd, prefix, instanceId, extraYaml: yaml, extraGrants: opts.extraGrants })));
  const [apiA, apiB] = await Promise.all([adminUrlOf(a!), adminUrlOf(b!)]);
  for (const api of [apiA, apiB]) {
    await waitUntil(`admin API ${api} ready`, async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok === true, { timeoutMs: 20_000 });
  }
  return {
    redis, sshd, prefix, a: a!, b: b!, apiA: apiA!, apiB: apiB!,
    stop: async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await Promise.all([sshd.stop(), redis.stop()]);
    },
  };
}
