import { hash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { LineupMetrics } from '../metrics.js';
import { METRICS_PATH } from '../routes.js';

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

/** `/metrics` in the Prometheus text format; with a token configured, only for `Authorization: Bearer TOKEN`. */
export function metricsRoutes(exposition: MetricsExposition, token: string | undefined): Router {
  const router = new Router();
  router.get(METRICS_PATH, async (ctx) => {
    if (token !== undefined) {
      const presented = /^Bearer\s+(.+)$/i.exec(ctx.get('Authorization'))?.[1] ?? '';
      if (!tokenMatches(presented.trim(), token)) {
        ctx.throw(401, 'Bearer token required', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } });
      }
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.type = exposition.contentType;
    ctx.body = await exposition.text();
  });
  return router;
}

/**
 * Counts playlist requests by their final status and times the ones answered 200. Sits outside
 * the error handler, so that refusals (403, 404, 429, 503) are counted with the status they got.
 */
export function playlistMetrics(metrics: LineupMetrics, isPlaylistPath: (path: string) => boolean) {
  return async function countPlaylistRequests(ctx: Context, next: Next): Promise<void> {
    if (!isPlaylistPath(ctx.path)) return next();
    const stopTimer = metrics.renderSeconds.startTimer();
    try {
      await next();
    } finally {
      metrics.playlistRequests.inc({ outcome: String(ctx.status) });
      if (ctx.status === 200) stopTimer();
    }
  };
}
