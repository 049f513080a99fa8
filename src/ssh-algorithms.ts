/**
 * Algorithm lists for both sides. ssh2's defaults still include SHA-1 MACs, CBC-free but
 * SHA-1 based KEX and `ssh-rsa` host key signatures; Warden offers none of them.
 * Strict KEX (the Terrapin fix) is negotiated by ssh2 itself when the peer offers it.
 */
import type { Algorithms } from 'ssh2';

export const KEX = [
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group-exchange-sha256',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512',
  'diffie-hellman-group14-sha256',
];

export const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];

export const MACS = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
];

export const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

/** The front door's offer, narrowed by the config's `algorithms` (each list in the order of
 *  preference, a subset of the lists above); what it leaves out is offered as above. */
export interface AlgorithmChoice {
  kex?: string[];
  ciphers?: string[];
  macs?: string[];
}

export function serverAlgorithms(choice: AlgorithmChoice = {}): Algorithms {
  return { kex: choice.kex ?? KEX, cipher: choice.ciphers ?? CIPHERS, hmac: choice.macs ?? MACS, serverHostKey: ['ssh-ed25519'], compress: ['none'] } as Algorithms;
}

export function clientAlgorithms(hostKeyTypes: string[] = HOST_KEY_ALGORITHMS): Algorithms {
  return { kex: KEX, cipher: CIPHERS, hmac: MACS, serverHostKey: hostKeyTypes, compress: ['none'] } as Algorithms;
}
