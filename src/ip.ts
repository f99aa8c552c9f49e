import { isIP } from 'node:net';

const MAPPED_IPV4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * The form the streaming server sees and hashes: plain dotted IPv4 (IPv4-mapped IPv6 unwrapped),
 * or lowercase compressed IPv6. Accepts a port (`1.2.3.4:80`, `[::1]:80`) as X-Forwarded-For may
 * carry one. Returns undefined for anything that is not an address.
 */
export function normalizeIp(raw: string): string | undefined {
  let address = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  address = address.replace(/%.*$/, ''); // IPv6 zone: the origin never sees it

  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  // WHATWG URL serialisation is RFC 5952: lowercase, compressed, mapped IPv4 written in hex.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = MAPPED_IPV4.exec(canonical);
  if (!mapped) return canonical;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}
