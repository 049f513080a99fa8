/**
 * The fast path of a kill: one PUBLISH on the owner's kill channel, one acknowledgement back
 * on the asker's reply channel. The BullMQ job it replaces costs a cold `warden kill` loading
 * BullMQ, a second connection reading the queue's event stream and several script round trips
 * before the owner even hears of it; this costs one connection more and two messages.
 *
 * Pub/sub is fire-and-forget, so the asker relies on it only when PUBLISH says a subscriber
 * received the request. When it reached nobody (the owner's subscriber is reconnecting; on
 * Redis Cluster PUBLISH counts the receivers on one node only) the asker also queues the
 * BullMQ job and takes whichever acknowledgement comes first: the owner's kill is idempotent,
 * a second request finds the session gone.
 *
 * Anything that can PUBLISH on Redis can reach this channel, so requests are parsed by hand
 * (no schema library: the CLI loads this module cold), bounded, and answered only on a reply
 * channel built from a client id of fixed form, never on a channel named by the message.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { WardenError } from './errors.js';
import type { RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

/** The owner's acknowledgement of a kill. */
export interface KillResult {
  outcome: 'killed' | 'already_finished' | 'not_found';
  sessionId: string;
  instance: string;
  /** Time from the job reaching the owner to the record being final. */
  ms: number;
  /** For already_finished: how it ended. */
  reason?: string;
}

export interface KillOrder {
  sessionId: string;
  by: string;
  reason?: string;
}

/** Bounds of a request (the admin API allows 200-character reasons; the CLI checks the same). */
export const KILL_REASON_MAX = 200;
export const KILL_BY_MAX = 128;
const MESSAGE_MAX = 4096;
const CLIENT_ID = /^[0-9a-f]{32}$/;
const SESSION_ID = /^[0-9A-Z]{26}$/;
const OUTCOMES: ReadonlySet<string> = new Set<KillResult['outcome']>(['killed', 'already_finished', 'not_found']);
/** Requests being handled at once; a flood beyond it is dropped (and logged), not queued. */
const IN_FLIGHT_MAX = 1024;

interface KillRequest extends KillOrder {
  client: string;
  id: number;
}

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

function parseJson(raw: string): Record<string, unknown> | undefined {
  if (raw.length > MESSAGE_MAX) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function parseKillRequest(raw: string): KillRequest | undefined {
  const m = parseJson(raw);
  if (!m || m.v !== 1) return undefined;
  const { client, id, sessionId, by, reason } = m;
  if (typeof client !== 'string' || !CLIENT_ID.test(client)) return undefined;
  if (!Number.isSafeInteger(id) || (id as number) < 1) return undefined;
  if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId)) return undefined;
  if (!str(by, KILL_BY_MAX)) return undefined;
  if (reason !== undefined && !str(reason, KILL_REASON_MAX)) return undefined;
  return { client, id: id as number, sessionId, by, reason };
}

export function parseKillReply(raw: string): { id: number; result: KillResult } | undefined {
  const m = parseJson(raw);
  const r = m?.result as Record<string, unknown> | undefined;
  if (!m || !Number.isSafeInteger(m.id) || typeof r !== 'object' || r === null) return undefined;
  if (typeof r.outcome !== 'string' || !OUTCOMES.has(r.outcome) || typeof r.sessionId !== 'string' || typeof r.instance !== 'string' || typeof r.ms !== 'number') return undefined;
  if (r.reason !== undefined && typeof r.reason !== 'string') return undefined;
  return { id: m.id as number, result: r as unknown as KillResult };
}

/** The owner's side: takes requests on its kill channel, answers each with the kill's result. */
export class KillListener {
  private inFlight = 0;

  constructor(
    private readonly o: {
      instanceId: string;
      keys: RedisKeys;
      /** A connection of its own (subscriber mode); replies go out on `publisher`. */
      subscriber: RedisClient;
      publisher: RedisClient;
      kill: (order: KillOrder) => Promise<KillResult>;
      warn: (fields: object, msg: string) => void;
    },
  ) {}

  async start(): Promise<void> {
    const channel = this.o.keys.killRequests(this.o.instanceId);
    this.o.subscriber.on('message', (ch: string, raw: string) => ch === channel && this.onRequest(raw));
    await this.o.subscriber.subscribe(channel);
  }

  private onRequest(raw: string): void {
    const req = parseKillRequest(raw);
    if (!req) return this.o.warn({ bytes: raw.length }, 'kill channel: malformed request ignored');
    if (this.inFlight >= IN_FLIGHT_MAX) return this.o.warn({ session: req.sessionId }, 'kill channel: too many requests at once, request dropped');
    this.inFlight++;
    void this.o
      .kill({ sessionId: req.sessionId, by: req.by, reason: req.reason })
      .then((result) => this.o.publisher.publish(this.o.keys.killReplies(req.client), JSON.stringify({ id: req.id, result })))
      .catch((err: Error) => this.o.warn({ err, session: req.sessionId }, 'kill channel: cannot answer a kill request'))
      .finally(() => this.inFlight--);
  }

  stop(): void {
    this.o.subscriber.disconnect();
  }
}

/**
 * A reply channel's id, unique per asking process: 16 bytes of the kernel's random source,
 * read directly because node:crypto would cost a cold `warden kill` ~10 ms for these alone.
 */
function newClientId(): string {
  const bytes = Buffer.alloc(16);
  const fd = openSync('/dev/urandom', 'r');
  try {
    if (readSync(fd, bytes, 0, bytes.length, null) !== bytes.length) throw new Error('short read from /dev/urandom');
  } finally {
    closeSync(fd);
  }
  return bytes.toString('hex');
}

/** The asker's side (`warden kill`, the admin API): one reply subscription per process. */
export class KillAsker {
  private readonly clientId = newClientId();
  private readonly waiting = new Map<number, (r: KillResult) => void>();
  private seq = 0;
  private subscriber?: RedisClient;
  private ready?: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** A new connection for the reply subscription (subscriber mode takes one of its own). */
    private readonly newConnection: () => RedisClient,
  ) {}

  /** Open the reply subscription; call early so it overlaps the registry lookup. */
  prepare(): Promise<void> {
    this.ready ??= (async () => {
      const sub = (this.subscriber = this.newConnection());
      sub.on('error', () => {});
      sub.on('message', (_ch: string, raw: string) => {
        const reply = parseKillReply(raw);
        const resolve = reply && this.waiting.get(reply.id);
        if (!resolve) return;
        this.waiting.delete(reply!.id);
        resolve(reply!.result);
      });
      await sub.subscribe(this.keys.killReplies(this.clientId));
    })();
    return this.ready;
  }

  /**
   * Publish a kill to `instance`. `receivers` is what PUBLISH counted; `answer` resolves with
   * the owner's acknowledgement (never, if none comes: the caller bounds the wait and calls
   * `forget`).
   */
  async ask(instance: string, order: KillOrder): Promise<{ receivers: number; answer: Promise<KillResult>; forget: () => void }> {
    await this.prepare();
    const id = ++this.seq;
    const message = JSON.stringify({ v: 1, client: this.clientId, id, sessionId: order.sessionId, by: order.by, reason: order.reason || undefined });
    // The owner would drop it unanswered: say so now instead of timing out.
    if (!parseKillRequest(message)) throw new WardenError('USAGE', `a kill takes a session id, a "by" of 1-${KILL_BY_MAX} characters and a reason of at most ${KILL_REASON_MAX}`);
    const answer = new Promise<KillResult>((resolve) => this.waiting.set(id, resolve));
    const forget = () => this.waiting.delete(id);
    // A PUBLISH that fails (Redis away) must not leave its waiter behind in a long-lived API process.
    const receivers = await this.redis.publish(this.keys.killRequests(instance), message).catch((err: unknown) => {
      forget();
      throw err;
    });
    return { receivers, answer, forget };
  }

  close(): void {
    this.waiting.clear();
    this.subscriber?.disconnect();
  }
}
