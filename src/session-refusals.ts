/**
 * What Warden refuses on a connection besides channels it relays: port forwarding (-L, -D,
 * -W/-J direct-tcpip), remote forwarding (-R tcpip-forward) and other global requests. Each
 * refusal tells the user and is an audit event.
 */
import type { Connection } from 'ssh2';
import type { Logger } from './logger.js';
import { printable } from './text.js';

export function refuseForwarding(client: Connection, o: { sessionId: string; say(text: string): void; audit: Logger }): void {
  client.on('tcpip', (_accept, reject, info) => {
    reject();
    const dest = `${printable(info.destIP, 64)}:${info.destPort}`;
    o.say(`Warden: port forwarding to ${dest} is not allowed.`);
    o.audit.info({ event: 'forward_refused', session: o.sessionId, dest }, 'port forwarding refused');
  });
  client.on('request', (_accept, reject, name) => {
    reject?.();
    o.say(`Warden: ${name === 'tcpip-forward' ? 'remote port forwarding' : 'that request'} is not allowed.`);
  });
}
