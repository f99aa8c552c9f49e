import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ForbiddenError, TooManyRequestsError } from '../../src/errors.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { createLogger } from '../../src/logger.js';
import type * as Render from '../../src/playlist/render.js';
import { addSubscriber, applySql } from '../core/support.js';
import { startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { rawGet, STACK_TRACE } from './raw-http.js';

/** A render that throws while `failure.message` is set: a fault deep in the playlist path. */
const failure = vi.hoisted(() => ({ message: undefined as string | undefined }));
vi.mock('../../src/playlist/render.js', async (importOriginal) => {
  const actual = await importOriginal<typeof Render>();
  return {
    ...actual,
    renderPlaylist: (...args: Parameters<typeof Render.renderPlaylist>) => {
      if (failure.message !== undefined) throw new Error(failure.message);
      return actual.renderPlaylist(...args);
    },
  };
});

const SECRET = 'sk_live_4f9a1c7e2b8d6f3a';

/** What a route had set before it threw: the headers of the response it meant to send. */
function setPlaylistHeaders(ctx: Koa.Context): void {
  ctx.set('ETag', '"playlist-etag"');
  ctx.set('Content-Encoding', 'gzip');
  ctx.set('Content-Type', 'audio/x-mpegurl; charset=utf-8');
  ctx.set('Cache-Control', 'private, no-cache');
  ctx.set('Vary', 'Accept-Encoding');
}

const ROUTES: Record<string, (ctx: Koa.Context) => void> = {
  '/render-fails': (ctx) => {
    setPlaylistHeaders(ctx);
    ctx.body = Buffer.from('#EXTM3U\n');
    throw new Error(`render failed for securetoken key ${SECRET}`);
  },
  '/expired': (ctx) => {
    setPlaylistHeaders(ctx);
    throw new ForbiddenError('Subscription expired on 2001-01-01 00:00:00 UTC');
  },
  '/method': (ctx) => {
    setPlaylistHeaders(ctx);
    ctx.throw(405, 'Method not allowed', { headers: { Allow: 'GET, HEAD, POST' } });
  },
  '/scrape': (ctx) => {
    setPlaylistHeaders(ctx);
    ctx.throw(401, 'Bearer token required', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } });
  },
  '/body-unread': (ctx) => {
    setPlaylistHeaders(ctx);
    ctx.set('Connection', 'close');
    ctx.throw(413, 'Body too large');
  },
  '/guessing': (ctx) => {
    setPlaylistHeaders(ctx);
    throw new TooManyRequestsError('Too many attempts', 30);
  },
  '/challenge-then-fault': (ctx) => {
    ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
    throw new Error('a fault after the challenge was set');
  },
};

/** Response headers as a map of lowercase names. */
function headersOf(head: string): Map<string, string> {
  return new Map(
    head
      .split('\r\n')
      .slice(1)
      .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as [string, string]),
  );
}

const REPRESENTATION_HEADERS = ['etag', 'content-encoding', 'vary'];

describe('error responses carry nothing of the response they replaced', () => {
  let server: Server;
  let base: string;
  const logged: string[] = [];

  beforeAll(async () => {
    const app = new Koa();
    app.silent = true;
    const logs = new Writable({
      write(chunk, _encoding, done) {
        logged.push(String(chunk));
        done();
      },
    });
    app.use(errorHandler(createLogger('info', logs)));
    app.use((ctx) => ROUTES[ctx.path]?.(ctx));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('when a route that set ETag, Content-Encoding and Content-Type throws with a secret in the message, then the 500 is plain text with none of them and no secret', async () => {
    const response = await rawGet(base, '/render-fails', ['Accept-Encoding: gzip']);
    const headers = headersOf(response.head);

    expect(response.status).toBe(500);
    for (const name of REPRESENTATION_HEADERS) expect(headers.has(name), name).toBe(false);
    expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(headers.get('cache-control')).toBe('no-store, private');
    expect(headers.get('content-length')).toBe(String('Internal error\n'.length));
    expect(response.body).toBe('Internal error\n');
    expect(`${response.head}\r\n\r\n${response.body}`).not.toContain(SECRET);
    expect(response.body).not.toMatch(STACK_TRACE);
    // The operator still learns what went wrong.
    expect(logged.join('')).toContain('unhandled error');
  });

  it('when a route that set its playlist headers refuses a subscriber, then the 403 carries only the reason', async () => {
    const response = await rawGet(base, '/expired');
    const headers = headersOf(response.head);
    expect(response.status).toBe(403);
    for (const name of REPRESENTATION_HEADERS) expect(headers.has(name), name).toBe(false);
    expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.body).toBe('Subscription expired on 2001-01-01 00:00:00 UTC\n');
  });

  const kept: [path: string, status: number, header: string, value: string][] = [
    ['/method', 405, 'allow', 'GET, HEAD, POST'],
    ['/scrape', 401, 'www-authenticate', 'Bearer realm="metrics"'],
    ['/body-unread', 413, 'connection', 'close'],
    ['/guessing', 429, 'retry-after', '30'],
  ];
  for (const [path, status, header, value] of kept) {
    it(`when a ${status} is thrown after the playlist headers were set, then it keeps ${header} and loses the rest`, async () => {
      const response = await rawGet(base, path);
      const headers = headersOf(response.head);
      expect(response.status).toBe(status);
      expect(headers.get(header)).toBe(value);
      for (const name of REPRESENTATION_HEADERS) expect(headers.has(name), name).toBe(false);
      expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
    });
  }

  it('when a route sets a challenge and then fails with a 500, then the 500 carries no challenge', async () => {
    const response = await rawGet(base, '/challenge-then-fault');
    expect(response.status).toBe(500);
    expect(headersOf(response.head).has('www-authenticate')).toBe(false);
  });
});

describe('a render failure on the real server', () => {
  let lineup: TestLineup;
  let playlistUrl: string;

  beforeAll(async () => {
    lineup = await startTestLineup();
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1), ('live/sport', 'Sport', 2);");
    playlistUrl = await addSubscriber(lineup, 'alice');
  });
  afterAll(async () => {
    failure.message = undefined;
    await lineup.close();
  });

  it('when rendering a playlist throws with the securetoken key in its message, then the 500 is plain text, with no ETag, no Content-Encoding and no key', async () => {
    failure.message = `signing failed with key ${TEST_KEY}`;
    const response = await rawGet(lineup.url, new URL(playlistUrl).pathname, ['Accept-Encoding: gzip']);
    failure.message = undefined;
    const headers = headersOf(response.head);

    expect(response.status).toBe(500);
    for (const name of REPRESENTATION_HEADERS) expect(headers.has(name), name).toBe(false);
    expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.body).toBe('Internal error\n');
    expect(`${response.head}\r\n\r\n${response.body}`).not.toContain(TEST_KEY);
    expect(`${response.head}\r\n\r\n${response.body}`).not.toContain(
      new URL(playlistUrl).pathname.slice('/playlist/'.length, -'.m3u'.length),
    );

    // And the next request, with nothing failing, is the playlist again.
    const next = await rawGet(lineup.url, new URL(playlistUrl).pathname);
    expect(next.status).toBe(200);
    expect(headersOf(next.head).get('content-type')).toBe('audio/x-mpegurl; charset=utf-8');
  });
});
