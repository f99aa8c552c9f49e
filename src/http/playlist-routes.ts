import Router from '@koa/router';
import fresh from 'fresh';
import { UnknownKeyError } from '../errors.js';
import type { PlaylistService } from '../playlist/playlist-service.js';
import { PLAYLIST_ROUTE, playlistKeyOf } from '../routes.js';
import { parseStreamFormat } from '../signing/origin.js';
import { acceptsGzip } from './accepts-gzip.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';

/** The personal playlist. Never a redirect: some players do not follow one. */
export function playlistRoutes(playlists: PlaylistService, inFlight: ConcurrencyLimiter): Router {
  // Only the canonical spelling (routes.ts, canonicalPath) may reach a key lookup.
  const router = new Router({ sensitive: true, strict: true });
  // One route for GET (and so HEAD) and POST: each route is another match and another middleware
  // chain built per request.
  router.register(PLAYLIST_ROUTE, ['GET', 'POST'], (ctx) => {
    const key = playlistKeyOf(ctx.params.file ?? '');
    if (key === undefined) throw new UnknownKeyError();
    // Before the lookup and the render, so that a refusal costs nothing.
    inFlight.admit(key, ctx.state.clientIp, ctx.res);
    // As koa's ctx.fresh: only GET and HEAD are conditional.
    const conditional = ctx.method === 'GET' || ctx.method === 'HEAD';
    const response = playlists.respond(key, {
      ip: ctx.state.clientIp,
      format: parseStreamFormat(ctx.query.output),
      gzip: acceptsGzip(ctx),
      holds: (etag) => conditional && fresh(ctx.req.headers, { etag }),
      // 'close' follows the last byte handed to the socket, or an abandoned connection.
      afterResponse: (done) => ctx.res.once('close', done),
    });
    ctx.state.subscriberId = response.subscriberId;
    ctx.status = response.status;
    ctx.set(response.headers);
    if (response.body) ctx.body = response.body;
  });
  return router;
}
