/**
 * The one place that unpacks ssh2 (CommonJS without static named exports for ESM) and the one
 * place that reaches into its private fields. Everything else uses these functions, so an
 * ssh2 upgrade that moves a field breaks here, visibly, and nowhere else.
 */
import { createRequire } from 'node:module';
import type { Server as NetServer, Socket } from 'node:net';
import ssh2, { type Connection } from 'ssh2';

export const { Server, Client, utils } = ssh2;
export type { Server as ServerType, Client as ClientType } from 'ssh2';

/** RFC 4253 11.1 reason codes Warden sends. */
export const DISCONNECT = {
  PROTOCOL_ERROR: 2,
  BY_APPLICATION: 11,
  TOO_MANY_CONNECTIONS: 12,
  NO_MORE_AUTH_METHODS_AVAILABLE: 14,
} as const;

interface PacketWriter {
  allocStartKEX: number;
  alloc(len: number, forceNormal?: boolean): Buffer;
  finalize(packet: Buffer, forceNormal?: boolean): Buffer;
}
interface ProtocolInternals {
  _packetRW: { write: PacketWriter };
}
const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as {
  sendPacket(proto: ProtocolInternals, packet: Buffer, bypass?: boolean): void;
};
const MSG_DISCONNECT = 1;

/** The listening net.Server inside an ssh2 Server. */
export function rawServer(server: object): NetServer {
  return (server as { _srv: NetServer })._srv;
}

/** The TCP socket of a server-side connection. */
export function socketOf(client: Connection): Socket | undefined {
  return (client as unknown as { _sock?: Socket })._sock;
}

/**
 * Send SSH_MSG_DISCONNECT with a description the client prints ("Received disconnect from
 * ...: 2: Too many authentication failures"), then close. ssh2's own `end()` sends an empty
 * description, which leaves the user guessing.
 */
export function disconnectWith(client: Connection, reason: number, description: string): void {
  const socket = socketOf(client);
  const proto = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  if (!socket || socket.destroyed || !socket.writable || !proto) return void client.end();
  const text = Buffer.from(description.slice(0, 200), 'utf8');
  const len = 1 + 4 + 4 + text.length + 4;
  const w = proto._packetRW.write;
  let p = w.allocStartKEX;
  const packet = w.alloc(len, true);
  packet[p] = MSG_DISCONNECT;
  packet.writeUInt32BE(reason, ++p);
  packet.writeUInt32BE(text.length, (p += 4));
  text.copy(packet, (p += 4));
  packet.writeUInt32BE(0, p + text.length); // language tag: empty
  try {
    sendPacket(proto, w.finalize(packet, true), true);
  } catch {
    /* connection already torn down */
  }
  socket.end();
}
