import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addChannels, addSubscriber } from '../core/support.js';
import { startTestLineup, type TestLineup } from '../helpers/lineup.js';

/** About 2.8 MB of playlist: less than the kernel takes into one connection's socket buffers from a client that does not read. */
const CHANNELS = 10000;
const SEND_TIMEOUT = 3;
/** Node's keep-alive timeout, the first look at an idle connection after its response: 5 s, measured 6 s. */
const KEEP_ALIVE_SECONDS = 6;
const CLIENTS = 20;

/**
 * The server's end of each connection from `clients` (their local ports), as the kernel lists it
 * (`/proc/net/tcp`), with the bytes it still holds to send: a connection that node has closed is
 * listed too, as an orphan (FIN_WAIT1), until the kernel lets go of it.
 */
function serverSide(port: number, clients: Set<number>): { connections: number; queued: number } {
  const hex = (n: number) => `:${n.toString(16).toUpperCase().padStart(4, '0')}`;
  const ours = new Set([...clients].map(hex));
  let connections = 0;
  let queued = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, remote, , queues] = line.trim().split(/\s+/);
      if (!local?.endsWith(hex(port)) || !ours.has(remote!.slice(remote!.lastIndexOf(':')))) continue;
      connections++;
      queued += Number.parseInt(queues!.split(':')[0]!, 16);
    }
  }
  return { connections, queued };
}

/** Pages of TCP memory in use on this machine (`/proc/net/sockstat`), both ends of loopback included. */
const tcpPages = () => Number(/^TCP: .* mem (\d+)$/m.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1]);

/** A raw connection that asks for `path` and never reads a byte of the answer. */
function neverReads(url: string, path: string, connection: 'keep-alive' | 'close'): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: ${connection}\r\n\r\n`);
    socket.pause();
  });
  return socket;
}

/** Reads a `Connection: close` answer to the end, waiting `delayMs` before the first read. */
function readsAfter(url: string, path: string, delayMs: number): Promise<{ declared: number; body: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
      socket.pause();
      setTimeout(() => socket.resume(), delayMs);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      const answer = Buffer.concat(chunks);
      const split = answer.indexOf('\r\n\r\n');
      const declared = Number(/^content-length: (\d+)$/im.exec(answer.subarray(0, split).toString('latin1'))?.[1]);
      resolve({ declared, body: answer.length - split - 4 });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function bigLineup(sendTimeout: string): Promise<TestLineup> {
  const started = await startTestLineup({ env: { SEND_TIMEOUT: sendTimeout, PLAYLIST_CONCURRENCY_PER_ADDRESS: '100' } });
  await addChannels(started, CHANNELS);
  return started;
}

let lineup: TestLineup | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await lineup?.close();
  lineup = undefined;
});

describe('responses that the client never reads', () => {
  it.each(['keep-alive', 'close'] as const)(
    'when %s clients never read a playlist that fits in the socket buffers, then the kernel holds it until SEND_TIMEOUT after it was handed over, and not after',
    async (connection) => {
      lineup = await bigLineup(String(SEND_TIMEOUT));
      const path = new URL(await addSubscriber(lineup, 'alice')).pathname;
      const port = Number(new URL(lineup.url).port);
      const pagesBefore = tcpPages();

      const handedOver = new Promise<number>((resolve) => {
        let finished = 0;
        lineup!.server.on('request', (_req, res) => res.once('finish', () => ++finished === CLIENTS && resolve(performance.now())));
      });
      for (let i = 0; i < CLIENTS; i++) sockets.push(neverReads(lineup.url, path, connection));
      // Node is done with every response at once: the kernel took each whole.
      const allHandedOver = await handedOver;
      const clients = new Set(sockets.map((socket) => socket.localPort!));
      const held = serverSide(port, clients);
      const pagesHeld = tcpPages();
      expect(held.connections).toBe(CLIENTS);
      expect(held.queued).toBeGreaterThan(CLIENTS * 1_000_000);

      // A client that reads late, but within the send timeout, still gets the whole playlist.
      const late = readsAfter(lineup.url, path, 1000);

      let releasedAt: number | undefined;
      let heldUntilDeadline = true;
      while (performance.now() - allHandedOver < (Math.max(SEND_TIMEOUT, KEEP_ALIVE_SECONDS) + 3) * 1000) {
        const now = serverSide(port, clients);
        const elapsed = performance.now() - allHandedOver;
        if (elapsed < (SEND_TIMEOUT - 0.5) * 1000 && now.queued < held.queued * 0.9) heldUntilDeadline = false;
        if (now.connections === 0) {
          releasedAt = elapsed;
          break;
        }
        await sleep(100);
      }
      const pagesAfter = tcpPages();
      console.info(
        `${connection}: ${CLIENTS} clients held ${(held.queued / 1e6).toFixed(1)} MB in the server's send queues; ` +
          `TCP memory ${pagesBefore} -> ${pagesHeld} -> ${pagesAfter} pages; released ${((releasedAt ?? Number.NaN) / 1000).toFixed(1)} s after handover`,
      );
      // Not before the send timeout (a slow reader keeps its chance), and gone within a second of
      // the first look after it: no orphan left in FIN_WAIT1 with its bytes for minutes.
      expect(heldUntilDeadline).toBe(true);
      expect(releasedAt).toBeGreaterThanOrEqual((SEND_TIMEOUT - 0.5) * 1000);
      expect(releasedAt).toBeLessThan((connection === 'close' ? SEND_TIMEOUT : KEEP_ALIVE_SECONDS) * 1000 + 1500);

      const { declared, body } = await late;
      expect(declared).toBeGreaterThan(held.queued / CLIENTS);
      expect(body).toBe(declared);
    },
    60_000,
  );

  it('when the server stops while a slow reader has yet to take a playlist that was handed over, then it stops at once and the reader still gets all of it', async () => {
    lineup = await bigLineup('60');
    const path = new URL(await addSubscriber(lineup, 'alice')).pathname;
    const handedOver = new Promise<void>((resolve) => lineup!.server.on('request', (_req, res) => res.once('finish', () => resolve())));
    const reader = readsAfter(lineup.url, path, 1500);
    await handedOver;
    const started = performance.now();
    await lineup.stop();
    // Not held for the 60 s send timeout: the kept connection is let go with its FIN.
    expect(performance.now() - started).toBeLessThan(5000);
    const { declared, body } = await reader;
    expect(declared).toBeGreaterThan(1_000_000);
    expect(body).toBe(declared);
  }, 60_000);
});
