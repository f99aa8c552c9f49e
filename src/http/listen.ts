import type { Server } from 'node:net';

/** HOST's default: every IPv6 address and, through IPv4-mapped addresses, every IPv4 one. */
export const DUAL_STACK_HOST = '::';

/** Every IPv4 address: where `::` cannot be bound. */
const IPV4_ANY = '0.0.0.0';

/**
 * What binding an IPv6 address answers where the system has no IPv6: no such address family (a
 * kernel without it), or no such address (IPv6 switched off). Anything else, a port in use above
 * all, is the operator's to fix and is never papered over by another address.
 */
const NO_SUCH_ADDRESS = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/** The addresses to try, in order, for HOST: `::` falls back to IPv4 alone; any other is tried alone. */
export function hostsToTry(host: string): string[] {
  return host === DUAL_STACK_HOST ? [DUAL_STACK_HOST, IPV4_ANY] : [host];
}

/**
 * Listens on the first of `hosts` that the system has, and returns it. A cluster worker's listen
 * is bound by the primary and fails the same way, so this serves both.
 */
export async function listenOnFirst(server: Server, port: number, hosts: readonly string[]): Promise<string> {
  for (const [at, host] of hosts.entries()) {
    try {
      await listenOnce(server, port, host);
      return host;
    } catch (error) {
      const last = at === hosts.length - 1;
      if (last || !NO_SUCH_ADDRESS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  }
  throw new Error('no address to listen on');
}

/** One attempt. The listeners are removed either way, so that a failed attempt leaves none behind for the next. */
function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      server.off('listening', listening);
      reject(error);
    };
    const listening = () => {
      server.off('error', failed);
      resolve();
    };
    server.once('error', failed);
    server.once('listening', listening);
    server.listen(port, host);
  });
}
