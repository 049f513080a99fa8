/**
 * The PROXY protocol (haproxy's, versions 1 and 2), for a Warden behind a TCP load balancer:
 * the balancer starts each connection with a header naming the client's address, so the
 * session record, the audit log, the per-source admission and the fleet-wide auth penalty see
 * the user, not the balancer (whose address would otherwise collect every user's failures and
 * be refused for all of them).
 *
 * Only peers in `proxyProtocol.trusted` may send a header, and they must: a header is how they
 * speak, and anyone else's would be a forged address. Parsing is bounded: version 1 is one
 * line of at most 107 bytes; version 2 at most 16 + MAX_V2_BODY bytes (addresses plus the TLVs
 * some balancers add, which are skipped).
 */
import { BlockList, isIP, type Socket } from 'node:net';

/** Version 2's 12-byte signature. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** The longest version 1 line, CRLF included (the specification's figure). */
const MAX_V1 = 107;
/** Version 2: 16 bytes of header, then at most this much of addresses and TLVs. */
const MAX_V2_BODY = 2048;

/**
 * What the bytes received so far hold: `more` (a header not complete yet), `bad`, or a header
 * of `length` bytes naming the client (`source`: undefined for the balancer's own connections,
 * health checks: v1 UNKNOWN, v2 LOCAL or an unspecified family).
 */
export type ProxyHeader = { kind: 'more' } | { kind: 'bad'; why: string } | { kind: 'ok'; length: number; source?: string };

export function parseProxyHeader(buf: Buffer): ProxyHeader {
  const n = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return buf.length < 16 ? { kind: 'more' } : parseV2(buf);
  const m = Math.min(buf.length, V1_PREFIX.length);
  if (buf.subarray(0, m).equals(V1_PREFIX.subarray(0, m))) return parseV1(buf);
  return { kind: 'bad', why: 'no PROXY protocol header' };
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end < 0) return buf.length >= MAX_V1 ? { kind: 'bad', why: 'PROXY v1 line too long' } : { kind: 'more' };
  if (end + 2 > MAX_V1) return { kind: 'bad', why: 'PROXY v1 line too long' };
  const parts = buf.toString('latin1', 0, end).split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'ok', length: end + 2 };
  const [, family, src, dst, sport, dport] = parts;
  const version = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (parts.length !== 6 || version === 0 || isIP(src!) !== version || isIP(dst!) !== version || !isPort(sport!) || !isPort(dport!)) {
    return { kind: 'bad', why: 'malformed PROXY v1 line' };
  }
  return { kind: 'ok', length: end + 2, source: src };
}

const isPort = (s: string) => /^(0|[1-9]\d{0,4})$/.test(s) && Number(s) <= 65535;

function parseV2(buf: Buffer): ProxyHeader {
  const verCmd = buf[12]!;
  const family = buf[13]!;
  const bodyLength = buf.readUInt16BE(14);
  if (verCmd >> 4 !== 2 || (verCmd & 0xf) > 1) return { kind: 'bad', why: 'unsupported PROXY v2 version or command' };
  if (bodyLength > MAX_V2_BODY) return { kind: 'bad', why: 'PROXY v2 header too long' };
  const length = 16 + bodyLength;
  if (buf.length < length) return { kind: 'more' };
  // LOCAL (the balancer's own connection) and UNSPEC carry no client address.
  if ((verCmd & 0xf) === 0 || family >> 4 === 0) return { kind: 'ok', length };
  if (family === 0x11 && bodyLength >= 12) return { kind: 'ok', length, source: [...buf.subarray(16, 20)].join('.') };
  if (family === 0x21 && bodyLength >= 36) return { kind: 'ok', length, source: ipv6(buf.subarray(16, 32)) };
  return { kind: 'bad', why: 'unsupported PROXY v2 address family' };
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952), as Node prints addresses.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** `10.0.0.0/8`, `127.0.0.1`, `fd00::/8`: the addresses of trusted balancers. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText, extra] = text.split('/');
  const version = isIP(address ?? '');
  if (extra !== undefined || version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address: address!, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether a peer address (as sourceOf gives it) is one of the trusted balancers. */
export function trustedPeers(cidrs: string[]): ((address: string) => boolean) | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (!p) throw new Error(`not an address or CIDR: ${c}`);
    list.addSubnet(p.address, p.prefix, p.family);
  }
  return (address) => {
    const version = isIP(address);
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * Reads the header off a balancer's connection, puts back what follows it (the client's SSH
 * version line may share the header's packet) and leaves the socket paused for the SSH
 * server to take over. Resolves with the client's address (undefined for the balancer's own
 * connections), or with why the connection must be closed.
 */
export type HeaderRead = { ok: true; source?: string } | { ok: false; why: string };

export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<HeaderRead> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (result: HeaderRead) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const h = parseProxyHeader(buf);
      if (h.kind === 'more') return;
      if (h.kind === 'bad') return done({ ok: false, why: h.why });
      // Paused and unhooked first: put back into a flowing socket, the bytes would come
      // straight back to this listener.
      const rest = buf.subarray(h.length);
      done({ ok: true, source: h.source });
      if (rest.length) socket.unshift(rest);
    };
    const onClose = () => done({ ok: false, why: 'closed before its PROXY header' });
    const timer = setTimeout(() => done({ ok: false, why: 'no PROXY header in time' }), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
