/**
 * Packet boundaries of one direction of an SFTP stream, found as chunks arrive.
 *
 * Only the head of each packet (length, type, id and the few fields a decision needs: a path,
 * a handle, an offset) is copied, into one small reused buffer; file data in WRITE and DATA
 * packets is forwarded as slices of the chunk it came in, never copied or held. The head is
 * held back until the handler has decided (pass, drop, or pass and show the body to a tap),
 * which is what lets a refused request never reach the target; when the handler says nothing
 * can be dropped (a grant that restricts nothing), heads are read as they pass instead. Bytes Warden itself sends
 * (a refusal's STATUS, a clean-up request) go out only between two packets.
 *
 * Malformed traffic (a length out of bounds, a head too big, a field past its packet) makes
 * the framer give up: from then on it forwards everything untouched and asks nothing.
 */
import { MAX_PACKET, Malformed } from './sftp-wire.js';

export type Verdict = 'pass' | 'drop' | 'tap';
export type Forward = (data: Buffer) => void;

export interface FrameHandler {
  /** Bytes of the packet's start needed to decide (at least 9, at most `total`). */
  need(head: Buffer, have: number, total: number): number;
  /** Whether the next packet might be dropped: only then is its head held back. */
  mayDrop(): boolean;
  /** Decide on a packet from its head ('drop' only if mayDrop said so). May throw Malformed. */
  packet(head: Buffer, headLen: number, total: number): Verdict;
  /** The body bytes of a tapped packet, as they go by (slices: read, never keep). */
  body(data: Buffer): void;
}

/** Injected packets waiting for a boundary; more than this and something is stuck. */
const MAX_QUEUED = 1024;

export class SftpFramer {
  private head = Buffer.alloc(512);
  private have = 0;
  private need = 4;
  private total = 0;
  private left = 0;
  private mode: Verdict | 'head' = 'head';
  private out?: Forward;
  /** Whether the current head is held back until decided (only when it might be dropped). */
  private holding = true;
  private busy = false;
  private queued: Buffer[] = [];
  gaveUp = false;

  constructor(
    private readonly handler: FrameHandler,
    private readonly maxHead: number,
    private readonly onGiveUp: (why: string) => void,
  ) {}

  /** Feed one chunk; everything that may pass is handed to `forward`, in order. */
  push(chunk: Buffer, forward: Forward): void {
    this.out = forward;
    if (this.gaveUp) return forward(chunk);
    this.busy = true;
    let pos = 0;
    let from = 0;
    // Where the current head started in this chunk; -1: in an earlier one (held back).
    let headAt = this.have > 0 ? -1 : 0;
    // A held head from an earlier chunk that passed: sent together with what follows it, so
    // a packet cut across chunks does not become two writes (two SSH packets) downstream.
    let prefix: Buffer | undefined;
    const flush = (to: number) => {
      if (prefix) forward(Buffer.concat([prefix, chunk.subarray(from, to)]));
      else if (to > from) forward(chunk.subarray(from, to));
      prefix = undefined;
      from = Math.max(from, to);
    };
    try {
      while (pos < chunk.length) {
        if (this.mode !== 'head') {
          const n = Math.min(this.left, chunk.length - pos);
          if (this.mode === 'drop') {
            flush(pos);
            from = pos + n;
          } else if (this.mode === 'tap' && n > 0) this.handler.body(chunk.subarray(pos, pos + n));
          pos += n;
          this.left -= n;
          if (this.left === 0) {
            this.endPacket(flush, pos, forward);
            headAt = pos;
          }
          continue;
        }
        if (this.have === 0) {
          headAt = pos;
          this.holding = this.handler.mayDrop();
        }
        const n = Math.min(this.need - this.have, chunk.length - pos);
        if (this.have + n > this.head.length) this.head = Buffer.concat([this.head.subarray(0, this.have)], Math.max(this.have + n, this.head.length * 2));
        chunk.copy(this.head, this.have, pos, pos + n);
        this.have += n;
        pos += n;
        if (this.have < this.need) break;
        if (!this.advance()) continue;
        // The head is complete: decide, then forward or skip it.
        const verdict = this.handler.packet(this.head, this.have, this.total);
        if (verdict === 'drop') {
          if (!this.holding) throw new Malformed('a packet to drop was not held back');
          if (headAt >= 0) flush(headAt);
          from = pos;
        } else if (headAt < 0 && this.holding) {
          // Its first bytes came in earlier chunks; this chunk's share is still in [from, pos).
          prefix = Buffer.from(this.head.subarray(0, this.have - pos));
        }
        this.mode = verdict;
        this.left = this.total - this.have;
        if (this.left === 0) {
          this.endPacket(flush, pos, forward);
          headAt = pos;
        }
      }
      if (this.mode === 'head' && this.have > 0 && this.holding) flush(headAt >= 0 ? headAt : from);
      else flush(chunk.length);
    } catch (err) {
      // Whatever was held back goes through as it is: the bytes keep flowing.
      if (prefix) forward(prefix);
      else if (this.mode === 'head' && this.have > 0 && headAt < 0 && this.holding) forward(Buffer.from(this.head.subarray(0, this.have - pos)));
      if (chunk.length > from) forward(chunk.subarray(from));
      this.giveUp(err instanceof Malformed ? err.message : `parser error: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  /** After the head grew to `need`: set the next need; true when the head is complete. */
  private advance(): boolean {
    if (this.need === 4) {
      const length = this.head.readUInt32BE(0);
      if (length < 5 || length > MAX_PACKET) throw new Malformed(`packet length ${length} out of bounds`);
      this.total = 4 + length;
      this.need = 9;
      return false;
    }
    const next = this.handler.need(this.head, this.have, this.total);
    if (next > this.maxHead) throw new Malformed(`packet type ${this.head[4]} needs a ${next}-byte head (limit ${this.maxHead})`);
    if (next > this.have) {
      this.need = Math.min(next, this.total);
      return this.need <= this.have;
    }
    return true;
  }

  private endPacket(flush: (to: number) => void, pos: number, forward: Forward): void {
    this.mode = 'head';
    this.have = 0;
    this.need = 4;
    if (this.queued.length === 0) return;
    flush(pos);
    const q = this.queued;
    this.queued = [];
    for (const b of q) forward(b);
  }

  /** Send a packet of Warden's own in this direction, at the next packet boundary. */
  inject(packet: Buffer): void {
    if (this.gaveUp) return;
    if (!this.busy && this.mode === 'head' && this.have === 0 && this.out) return this.out(packet);
    if (this.queued.length >= MAX_QUEUED) return this.giveUp('too many packets waiting for a boundary');
    this.queued.push(packet);
  }

  private giveUp(why: string): void {
    if (this.gaveUp) return;
    this.gaveUp = true;
    this.queued = [];
    this.onGiveUp(why);
  }
}
