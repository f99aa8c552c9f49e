import { type IncomingHttpHeaders, request, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { TooManyRequestsError } from '../../src/errors.js';
import { ConcurrencyLimiter } from '../../src/http/concurrency-limiter.js';
import { addChannels, addSubscriber, expectAllTokensValid } from '../core/support.js';
import { fetchFrom, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { STACK_TRACE } from './raw-http.js';

describe('ConcurrencyLimiter', () => {
  it('when a key is at its cap, then one more is refused with Retry-After, and a response ending makes room', () => {
    const limiter = new ConcurrencyLimiter({ perKey: 2, perAddress: 10, sendTimeoutSeconds: 60 });
    const first = limiter.enter('k', '203.0.113.1');
    limiter.enter('k', '203.0.113.2');
    expect(() => limiter.enter('k', '203.0.113.3')).toThrow(TooManyRequestsError);
    expect(() => limiter.enter('other', '203.0.113.3')).not.toThrow();
    first();
    first();
    limiter.enter('k', '203.0.113.3');
    expect(() => limiter.enter('k', '203.0.113.4')).toThrow(TooManyRequestsError);
  });

  it('when an address (an IPv6 /64) is at its cap, then it is refused for any key, and another address is not', () => {
    const limiter = new ConcurrencyLimiter({ perKey: 10, perAddress: 2, sendTimeoutSeconds: 60 });
    limiter.enter('a', '2001:db8:1:2::1');
    limiter.enter('b', '2001:db8:1:2::ffff');
    const error = (() => {
      try {
        limiter.enter('c', '2001:db8:1:2::7');
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(TooManyRequestsError);
    expect((error as TooManyRequestsError).retryAfterSeconds).toBeGreaterThan(0);
    expect(() => limiter.enter('c', '2001:db8:1:3::7')).not.toThrow();
  });

  it('when every response has ended, then nothing is remembered, and a refusal counted nothing', () => {
    const limiter = new ConcurrencyLimiter({ perKey: 1, perAddress: 1, sendTimeoutSeconds: 60 });
    const done = limiter.enter('k', '203.0.113.1');
    expect(() => limiter.enter('k', '203.0.113.2')).toThrow(TooManyRequestsError);
    done();
    expect(limiter.tracked).toBe(0);
  });
});

interface Stalled {
  status: number;
  headers: IncomingHttpHeaders;
  /** The client's port, which the server sees as the connection's remote port. */
  port: number;
  /** Reads the rest: the body, and whether it ended as a response ends (false: the connection was dropped). */
  read(): Promise<{ body: string; complete: boolean }>;
}

/**
 * A GET whose body the client does not read until told to: once the socket buffers are full, the
 * server's writes wait, and the response stays in flight.
 */
function stalledGet(url: string, localAddress = '127.0.0.1'): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false }, (res) => {
      res.pause();
      const read = () =>
        new Promise<{ body: string; complete: boolean }>((done) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', () => undefined);
          res.on('close', () => done({ body: Buffer.concat(chunks).toString('utf8'), complete: res.complete }));
          res.resume();
        });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, port: req.socket?.localPort ?? 0, read });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves when the server's end of the connection from `port` closes; watch before connecting. */
function watchClosings(server: Server): (port: number) => Promise<void> {
  const closings = new Map<number, Promise<void>>();
  server.on('connection', (socket) => {
    closings.set(socket.remotePort ?? 0, new Promise((closed) => socket.once('close', () => closed())));
  });
  return (port) => closings.get(port) ?? Promise.reject(new Error(`no connection from port ${port}`));
}

/** About 6 MB of playlist: more than the kernel takes into socket buffers (up to 4 MB here) from a client that does not read. */
const CHANNELS = 24000;

async function bigLineup(env: NodeJS.ProcessEnv): Promise<TestLineup> {
  const started = await startTestLineup({ env });
  await addChannels(started, CHANNELS);
  return started;
}

let lineup: TestLineup | undefined;
const stalled: Stalled[] = [];
afterEach(async () => {
  // Read what is still held, so that the server can stop.
  await Promise.all(stalled.splice(0).map((held) => held.read()));
  await lineup?.close();
  lineup = undefined;
});

describe('playlist responses in flight per key and per address', () => {
  it('when 20 responses for one key are in flight, then a 21st gets 429 with Retry-After while another subscriber is served', async () => {
    lineup = await bigLineup({ PLAYLIST_CONCURRENCY_PER_KEY: '20', PLAYLIST_CONCURRENCY_PER_ADDRESS: '100' });
    const alice = onServer(lineup, await addSubscriber(lineup, 'alice'));
    const bob = onServer(lineup, await addSubscriber(lineup, 'bob'));

    for (let held = 0; held < 20; held++) stalled.push(await stalledGet(alice));
    expect(stalled.map((held) => held.status)).toEqual(Array(20).fill(200));

    const refused = await fetchFrom(alice);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body.length).toBeLessThan(200);
    expect(refused.body).not.toMatch(STACK_TRACE);
    // The same key with the other extension is the same subscriber.
    expect((await fetchFrom(alice.replace(/\.m3u$/, '.m3u8'))).status).toBe(429);

    const other = await fetchFrom(bob);
    expect(other.status).toBe(200);
    expect(expectAllTokensValid(other.body, '127.0.0.1')).toHaveLength(CHANNELS);

    // A response that ends makes room for the next one.
    expect((await stalled.pop()!.read()).complete).toBe(true);
    expect((await fetchFrom(alice)).status).toBe(200);
  }, 60_000);

  it('when answers without a body (304s, refusals) come and go, then they leave no count behind, and a full answer still fits the cap of 1', async () => {
    lineup = await startTestLineup({ env: { PLAYLIST_CONCURRENCY_PER_KEY: '1', PLAYLIST_CONCURRENCY_PER_ADDRESS: '1' } });
    const alice = onServer(lineup, await addSubscriber(lineup, 'alice'));
    const first = await fetchFrom(alice);
    expect(first.status).toBe(200);
    for (let revalidation = 0; revalidation < 5; revalidation++) {
      expect((await fetchFrom(alice, { headers: { 'If-None-Match': String(first.headers.etag) } })).status).toBe(304);
    }
    expect((await fetchFrom(alice.replace(/\/playlist\/[^/]+\./, '/playlist/nosuchkey0000000000000000.'))).status).toBe(404);
    expect((await fetchFrom(alice)).status).toBe(200);
  });

  it('when one address has its cap of responses in flight, then it is refused for any key while another address is served', async () => {
    lineup = await bigLineup({ PLAYLIST_CONCURRENCY_PER_KEY: '20', PLAYLIST_CONCURRENCY_PER_ADDRESS: '2' });
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'carol'].map(async (name) => onServer(lineup!, await addSubscriber(lineup!, name))),
    );

    stalled.push(await stalledGet(alice!, '127.0.0.2'), await stalledGet(bob!, '127.0.0.2'));
    expect((await fetchFrom(carol!, { localAddress: '127.0.0.2' })).status).toBe(429);
    const elsewhere = await fetchFrom(carol!, { localAddress: '127.0.0.3' });
    expect(elsewhere.status).toBe(200);
    expect(expectAllTokensValid(elsewhere.body, '127.0.0.3')).toHaveLength(CHANNELS);
  }, 60_000);
});

describe('send timeout', () => {
  it('when a client stops reading its playlist, then after SEND_TIMEOUT its connection is dropped, while a reading client gets all of it', async () => {
    // Long enough for a client that reads to take 6 MB on loopback, render included, many times over.
    lineup = await bigLineup({ SEND_TIMEOUT: '3', PLAYLIST_CONCURRENCY_PER_KEY: '1' });
    const closing = watchClosings(lineup.server);
    const alice = onServer(lineup, await addSubscriber(lineup, 'alice'));
    const bob = onServer(lineup, await addSubscriber(lineup, 'bob'));

    const stopped = await stalledGet(alice);
    expect(stopped.status).toBe(200);
    await closing(stopped.port);
    const cut = await stopped.read();
    expect(cut.complete).toBe(false);
    expect(cut.body.length).toBeLessThan(Number(stopped.headers['content-length']));

    // The dropped response no longer counts against the key (cap 1), and a client that reads is
    // served in full however long the whole transfer takes.
    const reader = await fetchFrom(alice);
    expect(reader.status).toBe(200);
    expect(expectAllTokensValid(reader.body, '127.0.0.1')).toHaveLength(CHANNELS);
    expect((await fetchFrom(bob)).status).toBe(200);
  }, 60_000);
});
