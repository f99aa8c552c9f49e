import Router, { type RouterMiddleware } from '@koa/router';
import { NotFoundError } from '../errors.js';
import { UNKNOWN_CHANNEL_MESSAGE, type PlayTarget, type StreamRedirects } from '../playlist/stream-redirect.js';

const LIVE_FILE = /^(\d{1,15})\.(m3u8|ts)$/;
const CHANNEL_ID = /^\d{1,15}$/;

/**
 * Redirect mode's stable links: `/play/KEY/CHANNEL.m3u8` (or `.ts`) and the archive files
 * `/play/KEY/CHANNEL/index-UTC-DURATION.m3u8` and `…/timeshift_abs-UTC.ts`. Each answers 302 to an
 * origin URL signed for the address that made this request; nothing may cache it.
 */
export function playRoutes(redirects: StreamRedirects): Router {
  const router = new Router();

  const redirectTo = (ctx: Parameters<RouterMiddleware>[0], channelId: number, target: PlayTarget): void => {
    const key = ctx.params.key ?? '';
    const { url, subscriberId } = redirects.locate({ key, channelId, target, ip: ctx.state.clientIp });
    ctx.state.subscriberId = subscriberId;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(url);
  };

  router.get('/play/:key/:file', (ctx) => {
    const match = LIVE_FILE.exec(ctx.params.file ?? '');
    if (!match) throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
    redirectTo(ctx, Number(match[1]), { live: match[2] === 'ts' ? 'ts' : 'hls' });
  });

  router.get('/play/:key/:channel/:file', (ctx) => {
    if (!CHANNEL_ID.test(ctx.params.channel ?? '')) throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
    redirectTo(ctx, Number(ctx.params.channel), { archiveFile: ctx.params.file ?? '' });
  });

  return router;
}
