/**
 * What one connection asked for and was refused: forwarding Warden prohibits by design, and
 * requests past a per-connection limit. Each refusal gets the same wording everywhere (the
 * channel-open failure a client prints, the line in the user's terminal, the audit event), one
 * audit event per refusal, and one line to the user per kind.
 *
 * A client can repeat a refused request as fast as it likes: audit events are capped per
 * connection (then one "suppressed" event), and lines to the user are sent once per kind, so a
 * flood costs neither disk nor channel buffers.
 */
import type { Connection } from 'ssh2';
import type { Logger } from './logger.js';
import { printable } from './text.js';
import { OPEN_ADMINISTRATIVELY_PROHIBITED, OPEN_RESOURCE_SHORTAGE, type ChannelOpenReject } from './ssh2-patched.js';

export type Prohibited = 'port forwarding' | 'remote port forwarding' | 'unix socket forwarding' | 'X11 forwarding' | 'agent forwarding';
export type LimitKind = 'channels' | 'env' | 'channel_requests' | 'global_requests';

export const ADMINISTRATIVELY_PROHIBITED = 'administratively prohibited';
/** Channel requests (env, pty, exec, signal, ...) per channel; window changes are coalesced instead. */
export const MAX_CHANNEL_REQUESTS = 64;
/** Global requests (tcpip-forward, ...) per connection. */
export const MAX_GLOBAL_REQUESTS = 64;
const MAX_AUDITED = 32;
const MAX_ENV_NAMES_LOGGED = 32;

export function prohibitedText(what: Prohibited): string {
  return `${what} is ${ADMINISTRATIVELY_PROHIBITED} on Warden`;
}

export interface RefusalTarget {
  readonly id: string;
  readonly audit: Logger;
  readonly log: Logger;
  /** A line to the user on every open channel; false when none is open yet. */
  say(text: string): boolean;
}

export class SessionRefusals {
  private readonly told = new Set<string>();
  /** Lines for the user from before any channel could show them (x11/agent come first). */
  private undelivered: string[] = [];
  private audited = 0;
  private readonly droppedEnv = new Set<string>();
  private envLogged = false;
  private globalRequests = 0;

  constructor(private readonly s: RefusalTarget) {}

  /** Forwarding refused by policy; returns the text for a channel-open failure. */
  prohibited(what: Prohibited, detail?: string): string {
    const text = prohibitedText(what);
    this.record({ event: 'forward_refused', what, ...(detail ? { dest: printable(detail, 128) } : {}) }, 'forwarding refused');
    this.tell(what, `${text}.`);
    return text;
  }

  /** A request past a limit; returns the text for a channel-open failure. */
  limit(kind: LimitKind, text: string): string {
    this.record({ event: 'limit_exceeded', limit: kind, detail: text }, 'request refused: limit exceeded');
    this.tell(`limit:${kind}`, `Warden: ${text}.`);
    return text;
  }

  /** Whether one more channel may open on a connection with `open` channels; refuses it if not. */
  admitChannel(open: number, max: number, reject: () => void): boolean {
    if (open < max) return true;
    (reject as ChannelOpenReject)(OPEN_RESOURCE_SHORTAGE, this.limit('channels', `at most ${max} channels per connection (limits.maxChannels)`));
    return false;
  }

  /** Counts a global request; false once the connection has used up its allowance. */
  globalRequest(): boolean {
    if (++this.globalRequests <= MAX_GLOBAL_REQUESTS) return true;
    if (this.globalRequests === MAX_GLOBAL_REQUESTS + 1) this.limit('global_requests', `at most ${MAX_GLOBAL_REQUESTS} global requests per connection`);
    return false;
  }

  /** An env variable outside `env.allow`: not an error, logged once per session at debug. */
  envDropped(name: string): void {
    if (this.droppedEnv.size < MAX_ENV_NAMES_LOGGED) this.droppedEnv.add(printable(name, 64));
  }

  /**
   * A channel started (shell, exec or subsystem): tell it what was refused before any channel
   * could show it, and log the dropped env names once per session.
   */
  channelStarted(say: (text: string) => void): void {
    for (const line of this.undelivered) say(`${line}\r\n`);
    this.undelivered = [];
    if (this.envLogged || this.droppedEnv.size === 0) return;
    this.envLogged = true;
    this.s.log.debug({ dropped: [...this.droppedEnv] }, 'environment variables not passed to the target (not in env.allow)');
  }

  private tell(key: string, line: string): void {
    if (this.told.has(key)) return;
    this.told.add(key);
    if (!this.s.say(line)) this.undelivered.push(line);
  }

  private record(fields: Record<string, unknown>, msg: string): void {
    this.audited++;
    if (this.audited <= MAX_AUDITED) this.s.audit.info({ ...fields, session: this.s.id }, msg);
    else if (this.audited === MAX_AUDITED + 1) this.s.audit.warn({ event: 'refusals_suppressed', session: this.s.id }, `more than ${MAX_AUDITED} refusals on one connection; no more are audited`);
  }
}

/** -L, -D, -W and -J open direct-tcpip channels; -R asks with a global request. All refused. */
export function refuseForwarding(client: Connection, refusals: SessionRefusals): void {
  client.on('tcpip', (_accept, reject, info) => {
    (reject as ChannelOpenReject)(OPEN_ADMINISTRATIVELY_PROHIBITED, refusals.prohibited('port forwarding', `${info.destIP}:${info.destPort}`));
  });
  client.on('openssh.streamlocal', (_accept, reject, info) => {
    (reject as ChannelOpenReject)(OPEN_ADMINISTRATIVELY_PROHIBITED, refusals.prohibited('unix socket forwarding', info.socketPath));
  });
  client.on('request', (_accept, reject, name) => {
    reject?.();
    if (!refusals.globalRequest()) return;
    if (name === 'tcpip-forward') refusals.prohibited('remote port forwarding');
    else if ((name as string) === 'streamlocal-forward@openssh.com') refusals.prohibited('unix socket forwarding');
  });
}
