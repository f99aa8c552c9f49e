import type { IncomingMessage, ServerResponse } from 'node:http';
import Router from '@koa/router';
import fresh from 'fresh';
import { type Awaitable, andThen } from '../awaitable.js';
import { UnknownKeyError } from '../errors.js';
import type { PlaylistResponse, PlaylistService } from '../playlist/playlist-service.js';
import { PLAYLIST_ROUTE, playlistKeyOf } from '../routes.js';
import { parseStreamFormat } from '../signing/origin.js';
import { acceptsGzip } from './accepts-gzip.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';

/** One playlist request, as the koa route and the path answered in front of koa both read it. */
interface PlaylistAsk {
  /** The path's last segment: `KEY.m3u` or `KEY.m3u8`. */
  file: string;
  /** The query's `output`, if any. */
  output: unknown;
  ip: string;
  req: IncomingMessage;
  res: ServerResponse;
}

/** Synchronous when the subscriber is at hand (SQLite, a remembered one); a promise when the lookup waits. */
export type PlaylistAnswerer = (ask: PlaylistAsk) => Awaitable<PlaylistResponse>;

/**
 * The whole answer to a playlist request, before a header is set. Past a concurrency cap, it
 * throws TooManyRequestsError before the key is looked up.
 * @throws UnknownKeyError for a file that names no key, or an unknown one; as PlaylistService.respond.
 */
export function playlistAnswerer(playlists: PlaylistService, inFlight: ConcurrencyLimiter): PlaylistAnswerer {
  return ({ file, output, ip, req, res }) => {
    const key = playlistKeyOf(file);
    if (key === undefined) throw new UnknownKeyError();
    // Before the lookup and the render, so that a refusal costs nothing.
    const leave = inFlight.enter(key, ip);
    // As koa's ctx.fresh: only GET and HEAD are conditional.
    const conditional = req.method === 'GET' || req.method === 'HEAD';
    let response: Awaitable<PlaylistResponse>;
    try {
      response = playlists.respond(key, {
        ip,
        format: parseStreamFormat(output),
        gzip: acceptsGzip(req),
        holds: (etag) => conditional && fresh(req.headers, { etag }),
        // 'close' follows the last byte handed to the socket, or an abandoned connection; one that
        // came while the lookup waited does not come again.
        afterResponse: (done) => (res.closed ? done() : res.once('close', done)),
      });
    } catch (error) {
      leave();
      throw error;
    }
    // A body may be held by a client that stops reading; an answer without one (a 304, a refusal)
    // is written whole as soon as it is known, so it is in flight no longer and needs no timer.
    const answered = (ready: PlaylistResponse): PlaylistResponse => {
      if (ready.body) inFlight.hold(res, leave);
      else leave();
      return ready;
    };
    if (!(response instanceof Promise)) return answered(response);
    return response.then(answered, (error: unknown) => {
      leave();
      throw error;
    });
  };
}

/** The personal playlist. Never a redirect: some players do not follow one. */
export function playlistRoutes(answer: PlaylistAnswerer): Router {
  // Only the canonical spelling (routes.ts, canonicalPath) may reach a key lookup.
  const router = new Router({ sensitive: true, strict: true });
  // One route for GET (and so HEAD) and POST: each route is another match and another middleware
  // chain built per request.
  router.register(PLAYLIST_ROUTE, ['GET', 'POST'], (ctx) =>
    andThen(
      answer({ file: ctx.params.file ?? '', output: ctx.query.output, ip: ctx.state.clientIp, req: ctx.req, res: ctx.res }),
      (response) => {
        ctx.state.subscriberId = response.subscriberId;
        ctx.status = response.status;
        ctx.set(response.headers);
        if (response.body) ctx.body = response.body;
      },
    ),
  );
  return router;
}
