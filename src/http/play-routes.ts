import Router, { type RouterContext } from '@koa/router';
import { type Awaitable, andThen } from '../awaitable.js';
import { NotFoundError } from '../errors.js';
import { type PlayTarget, type StreamRedirects, UNKNOWN_CHANNEL_MESSAGE } from '../playlist/stream-redirect.js';
import { PLAY_ARCHIVE_ROUTE, PLAY_LIVE_ROUTE, parsePlayChannel, parsePlayLiveFile } from '../routes.js';

/**
 * Redirect mode's stable links, live and archive. Each answers 302 to an origin URL signed for the
 * address that made this request; nothing may cache it.
 */
export function playRoutes(redirects: StreamRedirects): Router {
  // Only the canonical spelling (routes.ts, canonicalPath) may reach a key lookup.
  const router = new Router({ sensitive: true, strict: true });

  // Synchronous when the subscriber is at hand (SQLite, a remembered one); a promise koa awaits when not.
  const redirectTo = (ctx: RouterContext, channelId: number | undefined, target: PlayTarget): Awaitable<void> => {
    if (channelId === undefined) throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
    return andThen(redirects.locate({ key: ctx.params.key ?? '', channelId, target, ip: ctx.state.clientIp }), ({ url, subscriberId }) => {
      ctx.state.subscriberId = subscriberId;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(url);
    });
  };

  router.get(PLAY_LIVE_ROUTE, (ctx) => {
    const live = parsePlayLiveFile(ctx.params.file ?? '');
    return redirectTo(ctx, live?.channelId, { live: live?.format ?? 'hls' });
  });

  router.get(PLAY_ARCHIVE_ROUTE, (ctx) =>
    redirectTo(ctx, parsePlayChannel(ctx.params.channel ?? ''), { archiveFile: ctx.params.file ?? '' }),
  );

  return router;
}
