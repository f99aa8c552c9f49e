import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientIp } from '../../src/http/client-ip.js';
import { normalizeIp } from '../../src/ip.js';

function trusting(...cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    list.addSubnet(address, Number(bits ?? (family === 'ipv6' ? 128 : 32)), family);
  }
  return list;
}

describe('normalizeIp', () => {
  it.each([
    ['192.168.1.10', '192.168.1.10'],
    ['::ffff:192.168.1.10', '192.168.1.10'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['::ffff:c0a8:010a', '192.168.1.10'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[2001:db8::1]:8443', '2001:db8::1'],
    ['[::ffff:10.0.0.1]', '10.0.0.1'],
    ['10.0.0.1:5555', '10.0.0.1'],
    ['  10.0.0.1 ', '10.0.0.1'],
  ])('when given %s, then it returns %s', (raw, expected) => {
    expect(normalizeIp(raw)).toBe(expected);
  });

  it.each(['', 'unknown', 'not-an-ip', '999.1.1.1', '1.2.3', 'evil.example.com', '[::1', '_hidden'])(
    'when given the garbage %j, then it returns undefined',
    (raw) => {
      expect(normalizeIp(raw)).toBeUndefined();
    },
  );
});

describe('clientIp', () => {
  it('when the peer is not a trusted proxy, then X-Forwarded-For is ignored', () => {
    expect(clientIp('203.0.113.9', '1.2.3.4', trusting())).toBe('203.0.113.9');
    expect(clientIp('203.0.113.9', '1.2.3.4', trusting('10.0.0.0/8'))).toBe('203.0.113.9');
  });

  it('when the peer is an ::ffff:-mapped IPv4, then the plain IPv4 is returned', () => {
    expect(clientIp('::ffff:127.0.0.1', undefined, trusting())).toBe('127.0.0.1');
  });

  it('when the peer is IPv6, then it comes back lowercase and compressed', () => {
    expect(clientIp('2001:DB8:0:0::0:1', undefined, trusting())).toBe('2001:db8::1');
  });

  it('when a trusted proxy forwards, then the right-most untrusted hop is taken, never the left-most', () => {
    expect(clientIp('10.0.0.5', '6.6.6.6, 198.51.100.7', trusting('10.0.0.0/8'))).toBe('198.51.100.7');
  });

  it('when the trusted proxy peer is ::ffff:-mapped, then it is still recognised as trusted', () => {
    expect(clientIp('::ffff:10.0.0.5', '198.51.100.7', trusting('10.0.0.0/8'))).toBe('198.51.100.7');
  });

  it('when several trusted proxies are chained, then they are all skipped', () => {
    const trusted = trusting('10.0.0.0/8', '172.16.0.1');
    expect(clientIp('10.0.0.5', '6.6.6.6, 198.51.100.7, 172.16.0.1, 10.1.2.3', trusted)).toBe('198.51.100.7');
  });

  it('when every hop is trusted, then the left-most (furthest real) one is taken', () => {
    expect(clientIp('10.0.0.5', '10.0.0.9, 10.0.0.8', trusting('10.0.0.0/8'))).toBe('10.0.0.9');
  });

  it('when a hop is garbage, then the walk stops at the nearest trusted address', () => {
    expect(clientIp('10.0.0.5', '198.51.100.7, garbage, 10.0.0.6', trusting('10.0.0.0/8'))).toBe('10.0.0.6');
    expect(clientIp('10.0.0.5', 'unknown', trusting('10.0.0.0/8'))).toBe('10.0.0.5');
  });

  it('when a forwarded hop is mapped, bracketed or carries a port, then it is normalised', () => {
    const trusted = trusting('10.0.0.0/8');
    expect(clientIp('10.0.0.5', '::ffff:198.51.100.7', trusted)).toBe('198.51.100.7');
    expect(clientIp('10.0.0.5', '198.51.100.7:51234', trusted)).toBe('198.51.100.7');
    expect(clientIp('10.0.0.5', '[2001:DB8::7]:443', trusted)).toBe('2001:db8::7');
  });

  it('when an IPv6 proxy is trusted, then its forwarded hop is used', () => {
    expect(clientIp('fd00::1', '198.51.100.7', trusting('fd00::/8'))).toBe('198.51.100.7');
  });

  it('when there is no peer address, then it falls back to 0.0.0.0 rather than throwing', () => {
    expect(clientIp(undefined, '1.2.3.4', trusting())).toBe('0.0.0.0');
  });
});
