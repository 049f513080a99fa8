/**
 * How a session leaves the user: the reason in plain words on every open channel, then the
 * channels closed; if the user is authenticated but has not opened a channel yet, Warden waits
 * briefly for one so the reason can still be read. The SSH connection itself is closed last,
 * with a hard stop for peers that ignore the disconnect.
 */
import type { Connection } from 'ssh2';
import type { ChannelRelay } from './channel-relay.js';
import { TOO_MANY_AUTH_FAILURES, type SessionEnd } from '../machines/session.types.js';
import { endMessage } from './errors.js';
import { DISCONNECT, disconnectWith, socketOf } from './ssh2.js';

/** How long a refused user has to open a channel so the reason can be shown to them. */
const GOODBYE_WAIT_MS = 5_000;
/** How long a client gets to disconnect after its channels were closed. */
const CLOSE_GRACE_MS = 2_000;
const WARDEN_EXIT_STATUS = 255;

export class Farewell {
  /** Set while waiting for a channel to tell the user why the session ended. */
  private pending?: { message: string; timer: NodeJS.Timeout };

  constructor(private readonly client: Connection) {}

  /** True while a channel opened now should only carry the goodbye. */
  get waiting(): boolean {
    return this.pending !== undefined;
  }

  /**
   * `message` undefined: the peer ended things; just close. `disconnect`: the reason code and
   * text sent in SSH_MSG_DISCONNECT when the connection is closed at once.
   */
  leave(relays: Iterable<ChannelRelay>, message: string | undefined, authenticated: boolean, disconnect?: { code: number; text: string }): void {
    const all = [...relays];
    const open = all.filter((r) => r.stream);
    if (message && open.length > 0) {
      for (const relay of open) this.tell(relay, `\r\n${message}\r\n`);
      this.closeSoon();
    } else if (message && authenticated) {
      this.pending = { message, timer: setTimeout(() => this.disconnect(), GOODBYE_WAIT_MS) };
    } else {
      for (const relay of all) relay.end();
      if (disconnect) disconnectWith(this.client, disconnect.code, disconnect.text);
      this.disconnect();
    }
  }

  /** A channel opened while waiting: it gets the message, then everything closes. */
  onChannel(relay: ChannelRelay): void {
    if (!this.pending) return;
    this.tell(relay, `${this.pending.message}\r\n`);
    clearTimeout(this.pending.timer);
    this.closeSoon();
  }

  private tell(relay: ChannelRelay, text: string): void {
    relay.say(text);
    relay.end(WARDEN_EXIT_STATUS);
  }

  /**
   * After Warden closed the channels, the OpenSSH client disconnects by itself (and prints no
   * "Received disconnect" noise); this is the backstop for clients that do not.
   */
  private closeSoon(): void {
    setTimeout(() => this.disconnect(), CLOSE_GRACE_MS).unref();
  }

  /** Send SSH disconnect and half-close; a peer that ignores it loses the socket shortly after. */
  disconnect(): void {
    this.client.end();
    const socket = socketOf(this.client);
    if (socket && !socket.destroyed) setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}

/** The SSH disconnect (code and text the client prints) for ends before any channel could tell. */
export function disconnectFor(end: SessionEnd): { code: number; text: string } | undefined {
  if (end.reason === 'auth_failed' && end.detail === TOO_MANY_AUTH_FAILURES) {
    return { code: DISCONNECT.NO_MORE_AUTH_METHODS_AVAILABLE, text: 'Too many authentication failures' };
  }
  if (end.reason === 'auth_timeout') return { code: DISCONNECT.BY_APPLICATION, text: endMessage(end) };
  return undefined;
}
