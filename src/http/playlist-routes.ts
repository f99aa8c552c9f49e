import Router, { type RouterMiddleware } from '@koa/router';
import { UnknownKeyError } from '../errors.js';
import type { PlaylistService } from '../playlist/playlist-service.js';
import { parseStreamFormat } from '../signing/origin.js';
import { acceptsGzip } from './accepts-gzip.js';

const PLAYLIST_FILE = /^(.+)\.m3u8?$/;

/**
 * `/playlist/KEY.m3u` and `.m3u8`: GET, HEAD (koa drops the body) and POST, which some apps send.
 * Never a redirect: some players do not follow one.
 */
export function playlistRoutes(playlists: PlaylistService): Router {
  const router = new Router();
  const servePlaylist: RouterMiddleware = (ctx) => {
    const match = PLAYLIST_FILE.exec(ctx.params.file ?? '');
    if (!match) throw new UnknownKeyError();
    const format = parseStreamFormat(ctx.query.output);
    const playlist = playlists.forKey(match[1]!, { ip: ctx.state.clientIp, format });
    // 'close' follows the last byte handed to the socket, or an abandoned connection: either way
    // nothing reads the body after it.
    ctx.res.once('close', () => playlist.release());
    ctx.state.subscriberId = playlist.subscriberId;
    ctx.set('Cache-Control', 'no-store, private');
    ctx.set('ETag', playlist.etag);
    ctx.vary('Accept-Encoding');
    ctx.status = 200;
    // A refresh that sends back the ETag costs a lookup and a hash of a few fields: nothing is signed.
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'audio/x-mpegurl; charset=utf-8';
    if (acceptsGzip(ctx)) {
      ctx.set('Content-Encoding', 'gzip');
      ctx.body = playlist.gzipped();
    } else {
      ctx.body = playlist.body();
    }
  };
  // One route for both methods (GET brings HEAD): each route is another match and another
  // middleware chain built per request.
  router.register('/playlist/:file', ['GET', 'POST'], servePlaylist);
  return router;
}
