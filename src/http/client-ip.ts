import { type BlockList, isIP } from 'node:net';
import { normalizeIp } from '../ip.js';

function isTrusted(address: string, trusted: BlockList): boolean {
  return trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The viewer's address. X-Forwarded-For counts only when the socket peer is a trusted proxy; then
 * the right-most hop that is not itself trusted is taken. The left-most entry is whatever the
 * client wrote, so it is never believed on its own. A hop that is not an address ends the walk at
 * the last trusted one, whose address is at least real.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | undefined, trusted: BlockList): string {
  const socketAddress = normalizeIp(peer ?? '') ?? '0.0.0.0';
  if (!forwardedFor || !isTrusted(socketAddress, trusted)) return socketAddress;
  let nearest = socketAddress;
  const hops = forwardedFor.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i]!);
    if (hop === undefined) return nearest;
    if (!isTrusted(hop, trusted)) return hop;
    nearest = hop;
  }
  return nearest;
}
