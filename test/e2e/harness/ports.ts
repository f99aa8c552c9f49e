import { once } from 'node:events';
import { createServer, type Server } from 'node:net';

/**
 * Ports the OS picks as free on loopback. The probes stay open until all are chosen, so that no
 * two of them collide; the short window before nginx binds them is the only race left.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      server.listen(0, host);
      await once(server, 'listening');
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Whether this machine can listen on `host` (`::1` is missing where IPv6 is turned off). */
export async function canListen(host: string): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(0, host);
    await once(server, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}
