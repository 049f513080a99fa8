/**
 * Which cipher and key exchange each hop uses, so that the paths are compared on equal terms.
 *
 * Warden's hop to the target is an ssh2 client with the list in src/ssh-algorithms.ts and no
 * setting to change it; SSH picks the first algorithm of the CLIENT's list that the server
 * also has, so against OpenSSH's sshd that hop always negotiates aes128-gcm@openssh.com with
 * curve25519-sha256 (its first entries). The equal set therefore forces exactly that pair on
 * every OpenSSH client hop: direct, the client's hop into Warden, and both hops of ProxyJump
 * (inner and jump). An OpenSSH client offering one algorithm either gets it or fails, so a
 * forced hop needs no further check; Warden's target hop is checked in every run from the
 * probe sshd's DEBUG1 log (environment.ts).
 *
 * The defaults set forces nothing: OpenSSH 9.x then picks chacha20-poly1305 with
 * sntrup761x25519 between OpenSSH ends, while Warden's hops use curve25519 (ssh2 has no
 * post-quantum KEX) — rows in that set are labelled as each side's defaults.
 */
import { CIPHERS, KEX } from '../src/ssh-algorithms.js';

export type CryptoSetName = 'equal' | 'defaults';

export interface CryptoSet {
  name: CryptoSetName;
  /** For row labels. */
  label: string;
  /** Arguments for every OpenSSH client hop. */
  opensshArgs: string[];
  /** ssh2 client algorithms (keystroke, idle RSS), undefined: ssh2's defaults. */
  ssh2?: { cipher: string[]; kex: string[] };
}

/** The first entries of Warden's own client lists: what its target hop negotiates with sshd. */
export const EQUAL_CIPHER = CIPHERS[0]!;
export const EQUAL_KEX = KEX[0]!;

export const CRYPTO: Record<CryptoSetName, CryptoSet> = {
  equal: {
    name: 'equal',
    label: `${EQUAL_CIPHER.replace('@openssh.com', '')} + ${EQUAL_KEX} on every hop`,
    opensshArgs: ['-c', EQUAL_CIPHER, '-o', `KexAlgorithms=${EQUAL_KEX}`],
    ssh2: { cipher: [EQUAL_CIPHER], kex: [EQUAL_KEX] },
  },
  defaults: {
    name: 'defaults',
    label: "each side's default algorithms",
    opensshArgs: [],
  },
};
