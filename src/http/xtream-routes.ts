import Router, { type RouterContext } from '@koa/router';
import fresh from 'fresh';
import type { Context } from 'koa';
import type { Awaitable } from '../awaitable.js';
import { BadInputError, ForbiddenError, NotFoundError } from '../errors.js';
import { archiveWindowFile } from '../playlist/catchup.js';
import type { PlayLocation, PlayTarget } from '../playlist/stream-redirect.js';
import { UNKNOWN_CHANNEL_MESSAGE } from '../playlist/stream-redirect.js';
import {
  isXcLegacyPath,
  parseXcLiveFile,
  XC_GET_PATH,
  XC_LEGACY_ROUTE,
  XC_LIVE_ROUTE,
  XC_PLAYER_API_PATH,
  XC_TIMESHIFT_ROUTE,
  XC_XMLTV_PATH,
} from '../routes.js';
import type { StreamFormat } from '../signing/origin.js';
import type { GetPhpType } from '../xtream/get-php.js';
import { parseTimeshiftStart } from '../xtream/xc-time.js';
import type { XcCredentials, XtreamService } from '../xtream/xtream-service.js';
import { formFields } from './form-body.js';

/** Lists hold no secret, and a stale copy holds no dead token: apps may keep them, and must ask again. */
const CACHE_CONTROL = 'private, no-cache';
const M3U_TYPE = 'audio/x-mpegurl; charset=utf-8';

const GET_PHP_TYPES: Readonly<Record<string, GetPhpType>> = { m3u: 'm3u', m3u_plus: 'm3u_plus' };
const GET_PHP_OUTPUTS: Readonly<Record<string, StreamFormat>> = { ts: 'ts', mpegts: 'ts', m3u8: 'hls', hls: 'hls' };

/** The longest catch-up window a `/timeshift/…` link may ask for: a week, in minutes. */
const MAX_TIMESHIFT_MINUTES = 7 * 24 * 60;

/** A request's fields, from its query and (for POST) its form body; the body wins, as on the panels. */
async function fieldsOf(ctx: Context): Promise<(name: string) => string | undefined> {
  const form = await formFields(ctx);
  return (name) => {
    const fromForm = form.get(name);
    if (fromForm !== null) return fromForm;
    const fromQuery = ctx.query[name];
    return Array.isArray(fromQuery) ? fromQuery[0] : fromQuery;
  };
}

function credentialsOf(field: (name: string) => string | undefined): XcCredentials {
  return { username: field('username') ?? '', password: field('password') ?? '' };
}

/**
 * The Xtream Codes API (`/player_api.php`, `/get.php`, `/xmltv.php`) and its stream links (`/live/…`,
 * legacy `/U/P/ID`, `/timeshift/…`), each answering 302 to an origin URL signed for this request's
 * address. The guess limiter counts wrong logins (app.ts).
 */
export function xtreamRoutes(xtream: XtreamService): Router {
  // Only the canonical spelling (routes.ts, canonicalPath) may reach a lookup.
  const router = new Router({ sensitive: true, strict: true });

  router.register(XC_PLAYER_API_PATH, ['GET', 'POST'], async (ctx) => {
    const field = await fieldsOf(ctx);
    ctx.set('Cache-Control', CACHE_CONTROL);
    try {
      const body = await xtream.playerApi(credentialsOf(field), field('action') ?? '', {
        categoryId: field('category_id'),
        streamId: field('stream_id'),
        limit: field('limit'),
      });
      ctx.type = 'application/json';
      ctx.body = body;
    } catch (error) {
      // Every player_api answer is JSON (XStreamity drops anything else), a lapsed line's 403 too.
      if (!(error instanceof ForbiddenError)) throw error;
      ctx.status = 403;
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({ user_info: { auth: 1, status: 'Forbidden', message: error.message } });
    }
  });

  router.register(XC_GET_PATH, ['GET', 'POST'], async (ctx) => {
    const field = await fieldsOf(ctx);
    const type = GET_PHP_TYPES[field('type') || 'm3u_plus'];
    const format = GET_PHP_OUTPUTS[field('output') || 'ts'];
    if (type === undefined) throw new BadInputError('type must be m3u or m3u_plus');
    if (format === undefined) throw new BadInputError('output must be ts, mpegts, m3u8 or hls');
    const { body, etag } = await xtream.getPhp(credentialsOf(field), type, format);
    ctx.set({ 'Cache-Control': CACHE_CONTROL, ETag: etag });
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && fresh(ctx.req.headers, { etag })) {
      ctx.status = 304;
      return;
    }
    ctx.type = M3U_TYPE;
    ctx.body = body;
  });

  router.get(XC_XMLTV_PATH, async (ctx) => {
    const field = await fieldsOf(ctx);
    const body = await xtream.xmltv(credentialsOf(field));
    ctx.set('Cache-Control', CACHE_CONTROL);
    ctx.type = 'application/xml; charset=utf-8';
    ctx.body = body;
  });

  const redirectTo = redirecter(xtream);

  router.get(XC_LIVE_ROUTE, async (ctx) => {
    const { username = '', password = '', file = '' } = ctx.params;
    answerRedirect(ctx, await locateXcLive(xtream, { username, password }, file, ctx.state.clientIp));
  });

  router.get(XC_TIMESHIFT_ROUTE, async (ctx) => {
    const live = parseXcLiveFile(ctx.params.file ?? '');
    const minutes = /^\d{1,5}$/.test(ctx.params.duration ?? '') ? Number(ctx.params.duration) : 0;
    const start = parseTimeshiftStart(ctx.params.start ?? '');
    if (minutes < 1 || minutes > MAX_TIMESHIFT_MINUTES || start === undefined) {
      throw new BadInputError('timeshift: DURATION is minutes (1 to 10080) and START is YYYY-MM-DD:HH-MM, UTC');
    }
    await redirectTo(ctx, live?.channelId, { archiveFile: archiveWindowFile(start, minutes * 60) });
  });

  return router;
}

/**
 * `/live/U/P/FILE`: the origin URL of the channel FILE names (`ID.ts`, `ID.m3u8`), signed for
 * `ip`. Shared by the koa route and the path answered in front of koa.
 * @throws NotFoundError for a FILE that names no channel; as XtreamService.locate.
 */
export function locateXcLive(xtream: XtreamService, credentials: XcCredentials, file: string, ip: string): Awaitable<PlayLocation> {
  const live = parseXcLiveFile(file);
  if (!live) throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
  return xtream.locate(credentials, live.channelId, { live: live.format }, ip);
}

/** 302 to a stream link's signed origin URL; nothing may cache it. */
function answerRedirect(ctx: RouterContext, { url, subscriberId }: PlayLocation): void {
  ctx.state.subscriberId = subscriberId;
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(url);
}

/** Answers a stream link: 302 to the origin URL signed for the address that asked. */
function redirecter(xtream: XtreamService) {
  return async (ctx: RouterContext, channelId: number | undefined, target: PlayTarget): Promise<void> => {
    if (channelId === undefined) throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
    const credentials = { username: ctx.params.username ?? '', password: ctx.params.password ?? '' };
    answerRedirect(ctx, await xtream.locate(credentials, channelId, target, ctx.state.clientIp));
  };
}

/** Legacy `/U/P/ID[.ts]`: mounted after every other router, since it matches any three segments with a numeric last. */
export function xtreamLegacyRoutes(xtream: XtreamService): Router {
  const router = new Router({ sensitive: true, strict: true });
  const redirectTo = redirecter(xtream);
  router.get(XC_LEGACY_ROUTE, async (ctx, next) => {
    if (!isXcLegacyPath(ctx.path)) return next();
    await redirectTo(ctx, parseXcLiveFile(ctx.params.file ?? '')?.channelId, { live: 'ts' });
  });
  return router;
}
