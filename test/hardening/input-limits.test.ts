import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PATH_LENGTH, MAX_QUERY_LENGTH, SERVER_LIMITS } from '../../src/http/input-limits.js';
import { addSubscriber } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { rawGet, rawRequest, STACK_TRACE } from './raw-http.js';

describe('input limits', () => {
  let lineup: TestLineup;
  let alicePath: string;

  beforeAll(async () => {
    lineup = await startTestLineup();
    alicePath = new URL(await addSubscriber(lineup, 'alice')).pathname;
  });
  afterAll(() => lineup.close());

  it.each(['PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND'])(
    'when the method is %s, then 405 with Allow: GET, HEAD, POST',
    async (method) => {
      const response = await rawGet(lineup.url, alicePath, [], method);
      expect(response.status).toBe(405);
      expect(response.head).toMatch(/\r\nAllow: GET, HEAD, POST\r\n/i);
      expect(response.body).not.toMatch(STACK_TRACE);
    },
  );

  it('when HEAD asks for a playlist, then 200 without a body', async () => {
    const response = await rawGet(lineup.url, alicePath, [], 'HEAD');
    expect(response.status).toBe(200);
    expect(response.body).toBe('');
  });

  it('when the path is longer than the cap, then 414', async () => {
    expect((await rawGet(lineup.url, `/playlist/${'a'.repeat(MAX_PATH_LENGTH)}.m3u`)).status).toBe(414);
    expect((await rawGet(lineup.url, `/${'a'.repeat(MAX_PATH_LENGTH - 10)}`)).status).toBe(404);
  });

  it('when the query is longer than the cap, then 414', async () => {
    expect((await rawGet(lineup.url, `${alicePath}?output=${'t'.repeat(MAX_QUERY_LENGTH)}`)).status).toBe(414);
  });

  it('when the headers are huge, then node answers 431 and the server keeps serving', async () => {
    const response = await rawGet(lineup.url, alicePath, [`X-Junk: ${'x'.repeat(20_000)}`]);
    expect(response.status).toBe(431);
    expect((await fetchFrom(`${lineup.url}${alicePath}`)).status).toBe(200);
  });

  it('when percent-encoding is malformed, then 404 with the unknown-key body, never 5xx', async () => {
    for (const target of ['/playlist/%E0%A4%A.m3u', '/playlist/%ZZ.m3u', '/%E0%A4%A', '/%', '/playlist/%00.m3u']) {
      const response = await rawGet(lineup.url, target);
      expect(response.status, target).toBe(404);
      expect(response.body).not.toMatch(STACK_TRACE);
    }
  });

  it('when a POST carries a small form body, then the body is ignored and the playlist served', async () => {
    const body = 'username=x&password=y';
    const response = await rawRequest(
      lineup.url,
      `POST ${alicePath} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(response.status).toBe(200);
    expect(response.body.startsWith('#EXTM3U')).toBe(true);
  });

  it('when a POST declares a huge body, then 413 at once, without waiting for the body', async () => {
    const response = await rawRequest(
      lineup.url,
      `POST ${alicePath} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n${'x'.repeat(1000)}`,
      { endAfterWrite: false },
    );
    expect(response.status).toBe(413);
    expect(response.head).toMatch(/\r\nConnection: close/i);
  });

  it('when clients send half their headers, or trickle them, then each gets 408 and is dropped soon after headersTimeout', async () => {
    const { headersTimeout = 0, connectionsCheckingInterval = 0 } = SERVER_LIMITS;
    // What the README states: node looks for overdue headers once per checking interval.
    expect(headersTimeout).toBe(10_000);
    expect(connectionsCheckingInterval).toBeLessThanOrEqual(1_000);
    const bound = headersTimeout + connectionsCheckingInterval + 3_000;
    const half = slowHeaders(lineup.url, { bound, trickle: false });
    const trickled = slowHeaders(lineup.url, { bound, trickle: true });
    for (const dropped of await Promise.all([half, trickled])) expect(dropped.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect((await fetchFrom(`${lineup.url}/healthz`)).status).toBe(200);
  }, 20_000);

  it('when a POST streams a chunked body that never ends, then the answer comes anyway and the connection is closed', async () => {
    const response = await rawRequest(
      lineup.url,
      `POST ${alicePath} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${'y'.repeat(1024)}\r\n`,
      { endAfterWrite: false },
    );
    expect(response.status).toBe(200);
    expect((await fetchFrom(`${lineup.url}/healthz`)).status).toBe(200);
  });
});

/**
 * Half a request's headers, then nothing (or one more byte every 500 ms, which keeps the socket
 * busy): resolves with what the server answered once it closes the connection, and fails if it
 * is still open after `bound` ms.
 */
function slowHeaders(baseUrl: string, { bound, trickle }: { bound: number; trickle: boolean }): Promise<{ answer: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let ticker: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => socket.destroy(new Error(`still connected after ${bound} ms`)), bound);
    socket.on('connect', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      if (trickle) ticker = setInterval(() => socket.write('X'), 500);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => (error.message.startsWith('still connected') ? reject(error) : undefined));
    socket.on('close', () => {
      clearTimeout(timer);
      clearInterval(ticker);
      resolve({ answer: Buffer.concat(chunks).toString('latin1') });
    });
  });
}
