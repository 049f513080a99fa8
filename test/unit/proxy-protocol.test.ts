import { describe, expect, it } from 'vitest';
import { parseCidr, parseProxyHeader, trustedPeers } from '../../src/proxy-protocol.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
function v2(verCmd: number, family: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, family]), len, body]);
}
const tcp4 = Buffer.from([192, 0, 2, 7, 10, 0, 0, 1, 0xd4, 0x31, 0, 22]);
const tcp6 = Buffer.concat([Buffer.from('20010db8000000000000000000000007', 'hex'), Buffer.alloc(16, 0), Buffer.from([0, 80, 0, 22])]);

describe('PROXY protocol header', () => {
  it('reads version 1 lines, and says when more bytes are needed', () => {
    const line = 'PROXY TCP4 192.0.2.7 10.0.0.1 54321 22\r\n';
    expect(parseProxyHeader(Buffer.from(`${line}SSH-2.0-OpenSSH_9.2\r\n`))).toEqual({ kind: 'ok', length: line.length, source: '192.0.2.7' });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 54321 22\r\n'))).toMatchObject({ kind: 'ok', source: '2001:db8::7' });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ kind: 'ok', length: 15 });
    for (const part of ['', 'PRO', 'PROXY TCP4 192.0.2.7 10.0']) expect(parseProxyHeader(Buffer.from(part))).toEqual({ kind: 'more' });
  });

  it('refuses malformed, spoofed-looking and oversized version 1 lines', () => {
    for (const bad of [
      'PROXY TCP4 192.0.2.7 10.0.0.1 54321\r\n', // a field missing
      'PROXY TCP4 2001:db8::7 10.0.0.1 1 22\r\n', // family and address disagree
      'PROXY TCP4 192.0.2.7 10.0.0.1 65536 22\r\n', // not a port
      'PROXY UDP4 192.0.2.7 10.0.0.1 1 22\r\n',
      'PROXY TCP4 192.0.2.7\x00 10.0.0.1 1 22\r\n',
    ]) expect(parseProxyHeader(Buffer.from(bad)).kind, bad).toBe('bad');
    expect(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(200)}`))).toEqual({ kind: 'bad', why: 'PROXY v1 line too long' });
    expect(parseProxyHeader(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))).toEqual({ kind: 'bad', why: 'no PROXY protocol header' });
  });

  it('reads version 2 headers: IPv4, IPv6, LOCAL; skips TLVs; bounds the length', () => {
    expect(parseProxyHeader(v2(0x21, 0x11, tcp4))).toEqual({ kind: 'ok', length: 28, source: '192.0.2.7' });
    expect(parseProxyHeader(v2(0x21, 0x21, tcp6))).toEqual({ kind: 'ok', length: 52, source: '2001:db8::7' });
    const withTlv = v2(0x21, 0x11, Buffer.concat([tcp4, Buffer.from([0x04, 0, 3, 1, 2, 3])]));
    expect(parseProxyHeader(Buffer.concat([withTlv, Buffer.from('SSH-2.0-x\r\n')]))).toEqual({ kind: 'ok', length: withTlv.length, source: '192.0.2.7' });
    expect(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)))).toEqual({ kind: 'ok', length: 16 }); // health check
    const whole = v2(0x21, 0x11, tcp4);
    for (const cut of [5, 15, 20]) expect(parseProxyHeader(whole.subarray(0, cut))).toEqual({ kind: 'more' });
    expect(parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(4096)))).toEqual({ kind: 'bad', why: 'PROXY v2 header too long' });
    expect(parseProxyHeader(v2(0x31, 0x11, tcp4)).kind).toBe('bad'); // version 3
    expect(parseProxyHeader(v2(0x22, 0x11, tcp4)).kind).toBe('bad'); // command 2
    expect(parseProxyHeader(v2(0x21, 0x11, tcp4.subarray(0, 8))).kind).toBe('bad'); // short addresses
    expect(parseProxyHeader(v2(0x21, 0x31, tcp4)).kind).toBe('bad'); // AF_UNIX
  });

  it('prints IPv6 sources as Node does', () => {
    const src = (hex: string) => (parseProxyHeader(v2(0x21, 0x21, Buffer.concat([Buffer.from(hex, 'hex'), Buffer.alloc(20)]))) as { source: string }).source;
    expect(src('00000000000000000000000000000001')).toBe('::1');
    expect(src('fe800000000000000000000000000000')).toBe('fe80::');
    expect(src('20010db8000100000000000100000001')).toBe('2001:db8:1::1:0:1');
    expect(src('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
  });

  it('matches peers against the trusted addresses and CIDRs', () => {
    expect(trustedPeers([])).toBeUndefined();
    const trusted = trustedPeers(['10.0.0.0/8', '127.0.0.1', 'fd00::/8'])!;
    expect(['10.1.2.3', '127.0.0.1', 'fd12::1'].map(trusted)).toEqual([true, true, true]);
    expect(['11.0.0.1', '127.0.0.2', 'fe80::1', 'not-an-ip', ''].map(trusted)).toEqual([false, false, false, false, false]);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', '::/129', '1.2.3.4/8/1', 'host.example', '10.0.0.0/-1']) expect(parseCidr(bad), bad).toBeUndefined();
    expect(() => trustedPeers(['nope'])).toThrow(/not an address or CIDR: nope/);
  });
});
