import Router, { type RouterMiddleware } from '@koa/router';
import { NotFoundError } from '../errors.js';
import { type PlaylistService, UNKNOWN_KEY_MESSAGE } from '../playlist/playlist-service.js';
import { parseStreamFormat } from '../signing/origin.js';

const PLAYLIST_FILE = /^(.+)\.m3u8?$/;

/**
 * `/playlist/KEY.m3u` and `.m3u8`: GET, HEAD (koa drops the body) and POST, which some apps send.
 * Never a redirect: some players do not follow one.
 */
export function playlistRoutes(playlists: PlaylistService): Router {
  const router = new Router();
  const servePlaylist: RouterMiddleware = (ctx) => {
    const match = PLAYLIST_FILE.exec(ctx.params.file ?? '');
    if (!match) throw new NotFoundError(UNKNOWN_KEY_MESSAGE);
    const format = parseStreamFormat(ctx.query.output);
    const { body, subscriberId } = playlists.forKey(match[1]!, { ip: ctx.state.clientIp, format });
    ctx.state.subscriberId = subscriberId;
    ctx.set('Cache-Control', 'no-store, private');
    ctx.type = 'audio/x-mpegurl; charset=utf-8';
    ctx.body = body;
  };
  router.get('/playlist/:file', servePlaylist);
  router.post('/playlist/:file', servePlaylist);
  return router;
}
