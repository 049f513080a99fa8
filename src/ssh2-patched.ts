/**
 * What Warden relies on from its patch of ssh2 (patches/ssh2+*.patch, applied by
 * patch-package at `npm ci`), in one place:
 *
 * - inbound packets up to 256 KiB, as OpenSSH (ssh2 stops at 35000 bytes, so a long
 *   `ssh host "$script"` dropped the whole connection);
 * - a correctly guessed KEX packet (`first_kex_packet_follows`, sent by dropbear) is used, as
 *   RFC 4253 7.1 says (ssh2 always discarded it and then waited forever);
 * - a CHANNEL_OPEN_FAILURE can carry a reason code and description, so a refused client
 *   reads why ("administratively prohibited: port forwarding is ...");
 * - data a client sends beyond a channel's window is cut at the window (ssh2 let the window
 *   go negative and then buffered whatever came, without bound).
 *
 * `checkSsh2Patch` runs at start-up: an install without the patch (e.g. `npm ci --omit=dev`,
 * which skips patch-package) is reported loudly instead of failing later in odd ways.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from './logger.js';

/** RFC 4254 5.1 channel-open failure codes Warden sends. */
export const OPEN_ADMINISTRATIVELY_PROHIBITED = 1;
export const OPEN_RESOURCE_SHORTAGE = 4;

/** ssh2's channel-open reject, as the patch extends it. */
export type ChannelOpenReject = (reasonCode?: number, description?: string) => void;

/** Which of the patch's changes are present in the installed ssh2 (by their markers). */
export function ssh2PatchStatus(): { packetSize: boolean; kexGuess: boolean; reasons: boolean; window: boolean } {
  const root = join(dirname(createRequire(import.meta.url).resolve('ssh2')), '..');
  const read = (file: string) => {
    try {
      return readFileSync(join(root, file), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    packetSize: /const MAX_PACKET_SIZE = 256 \* 1024;/.test(read('lib/protocol/crypto.js')),
    kexGuess: read('lib/protocol/kex.js').includes('firstFollows && !guessRight'),
    reasons: read('lib/server.js').includes('const reject = (reasonCode, description)'),
    window: read('lib/server.js').includes('data = data.subarray(0, channel.incoming.window)'),
  };
}

export function checkSsh2Patch(log: Logger): void {
  const status = ssh2PatchStatus();
  const missing = Object.entries(status).filter(([, ok]) => !ok).map(([name]) => name);
  if (missing.length) {
    log.error({ missing }, 'ssh2 is not patched (run `npm ci` with dev dependencies, or `npx patch-package`): long command lines drop connections, dropbear clients hang, refusals carry no reason');
  }
}
