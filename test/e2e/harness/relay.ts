import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface Relay {
  /** `url` with its host and port replaced by the relay's, so that a player connects through it. */
  rewrite(url: string): string;
  close(): Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1:0 that reaches `target` from `localAddress`. Players such as ffprobe
 * cannot choose their source address; through the relay the origin sees `127.0.0.2` as
 * `$remote_addr`, as it would see another household.
 */
export async function startRelay(target: { host: string; port: number }, localAddress: string): Promise<Relay> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const upstream = connect({ host: target.host, port: target.port, localAddress });
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    rewrite: (url) => {
      const parsed = new URL(url);
      parsed.host = `127.0.0.1:${port}`;
      return parsed.href;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
