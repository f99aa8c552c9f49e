import type { BlockList } from 'node:net';
import Koa from 'koa';
import type { HealthProblem } from '../db/database-health.js';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LineupMetrics } from '../metrics.js';
import type { StreamRedirects } from '../playlist/stream-redirect.js';
import { canonicalPath, isKeyedPath, isXtreamPath } from '../routes.js';
import type { XtreamService } from '../xtream/xtream-service.js';
import { type AuthAnswerer, authRoutes } from './auth-routes.js';
import { clientIp } from './client-ip.js';
import { epgRoutes } from './epg-routes.js';
import { errorHandler } from './error-handler.js';
import { type GuessLimiter, guessLimit } from './guess-limiter.js';
import { healthRoutes } from './health-routes.js';
import { inputLimits } from './input-limits.js';
import { type MetricsExposition, metricsRoutes, requestMetrics } from './metrics-routes.js';
import { playRoutes } from './play-routes.js';
import { type PlaylistAnswerer, playlistRoutes } from './playlist-routes.js';
import { requestLog } from './request-log.js';
import { xtreamLegacyRoutes, xtreamRoutes } from './xtream-routes.js';

export interface HttpDependencies {
  /** The playlist's answer, shared with the path answered in front of koa (fast-path.ts). */
  playlist: PlaylistAnswerer;
  redirects: StreamRedirects;
  /** The Xtream Codes API; absent where its store does not run yet (PostgreSQL), and its paths answer 404. */
  xtream?: XtreamService | undefined;
  /** XMLTV guide served at `/epg.xml` (or its `.gz`), when present. */
  epgFile: string;
  /** What `/healthz` asks: undefined while the database can serve, else the check that failed. */
  health: () => HealthProblem | undefined;
  /** Further fields of `/healthz`'s answer. */
  healthDetails?: (() => Record<string, string>) | undefined;
  trustProxy: BlockList;
  logger: Logger;
  metrics: LineupMetrics;
  /** Counts failed key lookups per address; the admin listener's token checks count into the same one. */
  guessLimiter: GuessLimiter;
  /** When set, `/metrics` is served here for `Authorization: Bearer METRICS_TOKEN`; unset, it is not served here (404). */
  metricsToken?: string | undefined;
  /** What `/metrics` answers; by default `metrics.registry`. */
  metricsExposition?: MetricsExposition;
  /** The auth backend that streaming servers ask (`/auth/…`); absent, its paths answer 404. */
  auth?: AuthAnswerer | undefined;
}

/** What a guesser could try: playlist keys, and Xtream Codes logins. */
const isGuardedPath = (path: string) => isKeyedPath(path) || isXtreamPath(path);

export function createHttpApp(dependencies: HttpDependencies): Koa {
  const { health: healthCheck, trustProxy, logger, metrics } = dependencies;
  // koa's own proxy support believes the left-most X-Forwarded-For entry; client-ip.ts does not.
  const app = new Koa({ proxy: false });
  // Errors are answered and logged by errorHandler; koa's default handler would print stacks.
  app.silent = true;

  const playlist = playlistRoutes(dependencies.playlist);
  const health = healthRoutes(healthCheck, dependencies.healthDetails);

  // First of all: every middleware and router after this sees the one spelling of the path
  // (routes.ts, canonicalPath), so that no spelling is routed that the limiter, the metrics or
  // the log redaction would not recognise.
  app.use((ctx, next) => {
    const path = canonicalPath(ctx.path);
    if (path !== ctx.path) ctx.path = path;
    return next();
  });
  app.use(requestLog(logger));
  app.use(requestMetrics(metrics));
  app.use(errorHandler(logger));
  app.use((ctx, next) => {
    ctx.state.clientIp = clientIp(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined, trustProxy);
    return next();
  });
  app.use(inputLimits());
  app.use(guessLimit(dependencies.guessLimiter, isGuardedPath, metrics));
  const exposition = dependencies.metricsExposition ?? {
    contentType: metrics.registry.contentType,
    text: () => metrics.registry.metrics(),
  };
  // Busiest first: every router a request passes before its own costs it a match. nginx asks the
  // auth backend for every segment it serves.
  if (dependencies.auth) app.use(authRoutes(dependencies.auth).routes());
  app.use(playlist.routes());
  // The public port serves /metrics only behind a token; without one, the admin listener does (admin-app.ts).
  if (dependencies.metricsToken !== undefined) app.use(metricsRoutes(exposition, { bearer: dependencies.metricsToken }).routes());
  app.use(playRoutes(dependencies.redirects).routes());
  if (dependencies.xtream) app.use(xtreamRoutes(dependencies.xtream).routes());
  app.use(epgRoutes(dependencies.epgFile).routes());
  app.use(health.routes());
  // After every fixed route: legacy XC links match any three segments.
  if (dependencies.xtream) app.use(xtreamLegacyRoutes(dependencies.xtream).routes());
  app.use((ctx) => {
    if (ctx.body === undefined && ctx.status === 404) throw new NotFoundError('Not found');
  });
  return app;
}
