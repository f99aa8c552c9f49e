import { hash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { LineupMetrics } from '../metrics.js';
import { isKeyedPath, isPlaylistPath, isXcStreamPath, METRICS_PATH } from '../routes.js';

/**
 * Compares a presented bearer token with the configured one in constant time. Both sides are
 * hashed first, so that the comparison has a fixed length and leaks neither the token's length
 * nor how many leading characters matched.
 */
function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(Buffer.from(hash('sha256', presented), 'hex'), Buffer.from(hash('sha256', expected), 'hex'));
}

/** Where a scrape's text comes from: this process's registry, or with WORKERS > 1 the whole cluster's. */
export interface MetricsExposition {
  contentType: string;
  text(): Promise<string>;
}

/**
 * Who may scrape: on the public listener, only a client presenting `Authorization: Bearer TOKEN`;
 * on the admin listener, anyone who can reach it (the operator keeps it private).
 */
export type MetricsAccess = { bearer: string } | 'open';

/** `/metrics` in the Prometheus text format. */
export function metricsRoutes(exposition: MetricsExposition, access: MetricsAccess): Router {
  const router = new Router();
  router.get(METRICS_PATH, async (ctx) => {
    if (access !== 'open') {
      const presented = /^Bearer\s+(.+)$/i.exec(ctx.get('Authorization'))?.[1] ?? '';
      if (!tokenMatches(presented.trim(), access.bearer)) {
        ctx.throw(401, 'Bearer token required', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } });
      }
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.type = exposition.contentType;
    ctx.body = await exposition.text();
  });
  return router;
}

/** Counts one request, once its final status is known. */
export type RequestCount = (status: number) => void;

/** `/play/KEY/…`: the keyed paths that are not playlists. */
const isPlayPath = (path: string) => isKeyedPath(path) && !isPlaylistPath(path);

/**
 * How a request on `path` is counted: playlists by outcome and timed from here (the 200s),
 * redirects (`/play` and the Xtream Codes stream links) by outcome; undefined for any other path.
 * Shared by koa's middleware and the paths answered in front of koa. Expects a canonical path.
 */
export function requestCounter(metrics: LineupMetrics): (path: string) => RequestCount | undefined {
  return (path) => {
    if (isPlaylistPath(path)) {
      const stopTimer = metrics.renderSeconds.startTimer();
      return (status) => {
        metrics.playlistRequests.inc({ outcome: String(status) });
        if (status === 200) stopTimer();
      };
    }
    if (isPlayPath(path) || isXcStreamPath(path)) return (status) => metrics.playRequests.inc({ outcome: String(status) });
    return undefined;
  };
}

/**
 * Counts playlist and redirect requests by their final status, and times the playlists answered
 * 200. Sits outside the error handler, so that refusals (403, 404, 410, 429, 503) are counted
 * with the status they got.
 */
export function requestMetrics(metrics: LineupMetrics) {
  const counterFor = requestCounter(metrics);
  return async function countRequests(ctx: Context, next: Next): Promise<void> {
    const count = counterFor(ctx.path);
    if (!count) return next();
    try {
      await next();
    } finally {
      count(ctx.status);
    }
  };
}
