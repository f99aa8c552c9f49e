import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { SessionLimiter } from './auth/session-limiter.js';
import type { Config } from './config.js';
import type { LineupContext } from './context.js';
import { type AuditQuery, readAudit } from './db/audit-store.js';
import { CatalogStore } from './db/catalog-store.js';
import { databaseHealth, type HealthProblem } from './db/database-health.js';
import { readLintInput } from './db/lint-store.js';
import { sqliteSession } from './db/sql-session.js';
import { subscriberCounter } from './db/subscriber-counts.js';
import type { LiveGuide } from './epg/live-guide.js';
import { createAdminApp } from './http/admin-app.js';
import type { AdminApiDependencies } from './http/api-routes.js';
import { apiRunner } from './http/api-runner.js';
import { createHttpApp } from './http/app.js';
import { nginxAuthFastPath } from './http/auth-fast-path.js';
import { type AuthAnswerer, authAnswerer } from './http/auth-routes.js';
import { ConcurrencyLimiter } from './http/concurrency-limiter.js';
import { GuessLimiter } from './http/guess-limiter.js';
import { SERVER_LIMITS } from './http/input-limits.js';
import { keyedFastPath } from './http/keyed-fast-path.js';
import { hostsToTry, listenOnFirst } from './http/listen.js';
import type { MetricsExposition } from './http/metrics-routes.js';
import { playlistAnswerer } from './http/playlist-routes.js';
import { dropTimedOut, guardUnreadResponses } from './http/unread-responses.js';
import { lintLineup } from './lint/lint.js';
import type { Logger } from './logger.js';
import { gaugeStreamSessions, gaugeSubscriberStates, type LineupMetrics } from './metrics.js';
import type { PlaylistService } from './playlist/playlist-service.js';
import type { StreamRedirects } from './playlist/stream-redirect.js';
import { sha1LanesAvailable } from './signing/sha1-lanes.js';
import { type Clock, toSqlTime } from './time.js';
import type { XtreamService } from './xtream/xtream-service.js';

/** How often sightings of open sessions that are due are written (at most once a quarter of SESSION_IDLE each). */
const SESSION_FLUSH_MS = 2000;

export interface RunningServer {
  server: Server;
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Where the admin listener listens, when ADMIN_PORT is set. */
  adminUrl?: string;
  /** Stops accepting and lets requests in flight finish; the context stays open. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  logger: Logger;
  metrics: LineupMetrics;
  /** What `/metrics` answers; by default this process's registry (a cluster worker's covers every process). */
  metricsExposition?: MetricsExposition;
  /**
   * Whether the busiest exact paths are answered in front of koa (auth-fast-path.ts,
   * keyed-fast-path.ts); on unless set to false, which the parity tests do to compare both.
   */
  fastPaths?: boolean;
}

/**
 * What one process serves, whichever database is behind it. The XC API and the admin API are
 * served where their stores run (SQLite, for now); absent, their paths answer 404.
 */
export interface ServedSurfaces {
  config: Config;
  clock: Clock;
  playlists: PlaylistService;
  redirects: StreamRedirects;
  guide: LiveGuide;
  /** What `/healthz` asks: undefined while the database can serve, else the check that failed. */
  health: () => HealthProblem | undefined;
  /** Further fields of `/healthz`'s answer (the change feed's state, on PostgreSQL). */
  healthDetails?: () => Record<string, string>;
  xtream?: XtreamService;
  auth?: AuthAnswerer;
  /** The admin API's parts, given the public listener's guess limiter (its token checks count there). */
  adminApi?: (guessLimiter: GuessLimiter) => AdminApiDependencies;
  /** Called once the listeners are closed. */
  afterStop?: () => void;
}

/**
 * The HTTP listeners of one process: HOST:PORT, serving from `context`, and with ADMIN_PORT the
 * admin listener. A cluster worker runs this too; node then shares each port among the workers.
 */
export async function startServer(context: LineupContext, options: ServerOptions): Promise<RunningServer> {
  const { config } = context;
  const { logger, metrics } = options;
  const countSubscribers = subscriberCounter(context.db);
  gaugeSubscriberStates(metrics, () => countSubscribers(toSqlTime(context.clock())));
  const sessions = context.sessions();
  const { backend, limiter } = context.auth();
  gaugeStreamSessions(metrics, () => sessions.counts(context.clock() - config.authBackend.sessionIdle));
  const flusher = flushSessionsEvery(limiter, context.clock, logger);
  return listenLineup(
    {
      config,
      clock: context.clock,
      playlists: context.playlists,
      redirects: context.redirects,
      guide: context.guide,
      xtream: context.xtream,
      auth: authAnswerer(backend, context.clock, metrics, { authDuration: config.authBackend.authDuration }),
      health: databaseHealth(context.db, config.dbPath, context.lineupStore),
      adminApi: (guessLimiter) => ({
        runner: apiRunner(
          {
            subscriberAdmin: context.subscriberAdmin,
            catalog: new CatalogStore(context.db),
            lint: () => lintLineup(readLintInput(sqliteSession(context.db), toSqlTime(context.clock()))),
            audit: (query: AuditQuery) => readAudit(context.db, query),
            clock: context.clock,
            sessions,
            sessionIdleSeconds: config.authBackend.sessionIdle,
            usernames: () => new Map(context.subscribers.list().map((subscriber) => [subscriber.id, subscriber.username])),
          },
          context.apiTokens,
          context.apiWrites,
        ),
        guessLimiter,
      }),
      afterStop: () => void flusher.stop(),
    },
    options,
  );
}

/**
 * Sessions already open are seen in memory; their sightings are written in batches
 * (session-limiter.ts) every SESSION_FLUSH_MS, and once more at `stop`. A batch that cannot be
 * written is logged and tried again with the next.
 */
export function flushSessionsEvery(limiter: SessionLimiter, clock: Clock, logger: Logger): { stop(): Promise<void> } {
  const warn = (error: unknown) =>
    logger.warn({ code: (error as { code?: string }).code }, `stream sessions not written this time: ${(error as Error).message}`);
  const flush = async () => {
    try {
      await limiter.flush(clock());
    } catch (error) {
      warn(error);
    }
  };
  const timer = setInterval(() => void flush(), SESSION_FLUSH_MS);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      return flush();
    },
  };
}

/** The listeners over `surfaces`: the public one on HOST:PORT, and the admin one with ADMIN_PORT. */
export async function listenLineup(
  surfaces: ServedSurfaces,
  { logger, metrics, metricsExposition, fastPaths = true }: ServerOptions,
): Promise<RunningServer> {
  const { config } = surfaces;
  const exposition = metricsExposition ?? { contentType: metrics.registry.contentType, text: () => metrics.registry.metrics() };
  const guessLimiter = new GuessLimiter(config.guessLimits);
  const playlist = playlistAnswerer(surfaces.playlists, new ConcurrencyLimiter(config.playlistConcurrency));
  const app = createHttpApp({
    auth: surfaces.auth,
    playlist,
    redirects: surfaces.redirects,
    xtream: surfaces.xtream,
    epgFile: config.epgFile,
    health: surfaces.health,
    healthDetails: surfaces.healthDetails,
    trustProxy: config.trustProxy.list,
    logger,
    metrics,
    guessLimiter,
    metricsToken: config.metricsToken,
    metricsExposition: exposition,
  });

  // Asked now rather than at the first playlist, so that the operator learns it at start.
  if (!sha1LanesAvailable()) {
    logger.warn('WebAssembly SIMD is not available here: signing playlists with node:crypto (the same tokens, more CPU each)');
  }
  const koa = app.callback();
  const nginxAuth = surfaces.auth && nginxAuthFastPath(surfaces.auth, logger, config.trustProxy.list);
  const keyed = keyedFastPath({
    playlist,
    xtream: surfaces.xtream,
    guessLimiter,
    metrics,
    logger,
    trustProxy: config.trustProxy.list,
  });
  const server = createServer(
    SERVER_LIMITS,
    fastPaths
      ? (req, res) => {
          if (!nginxAuth?.(req, res) && !keyed(req, res)) void koa(req, res);
        }
      : koa,
  );
  // Socket inactivity: a client that takes none of its response's bytes for SEND_TIMEOUT is dropped.
  // Between requests node's keep-alive timeout holds instead, and each request restores this one.
  const sendTimeoutMs = config.sendTimeoutSeconds * 1000;
  server.setTimeout(sendTimeoutMs, (socket: Socket) => dropTimedOut(socket, sendTimeoutMs));
  // A large response that the client never reads is reset SEND_TIMEOUT after node handed it over,
  // rather than left to the kernel behind a FIN for minutes.
  guardUnreadResponses(server, sendTimeoutMs);
  const host = await listenOnFirst(server, config.port, hostsToTry(config.host));
  if (host !== config.host) logger.warn({ host }, `IPv6 is not available here: listening on ${host} (IPv4 only) instead of ${config.host}`);
  // Started after the public listener, so that a cluster primary hears from each worker about that one first.
  let admin: Server | undefined;
  if (config.admin && surfaces.adminApi) {
    const api = surfaces.adminApi(guessLimiter);
    admin = createServer(SERVER_LIMITS, createAdminApp({ logger, metricsExposition: exposition, api }).callback());
    try {
      await listenOnFirst(admin, config.admin.port, [config.admin.host]);
    } catch (error) {
      server.close();
      throw error;
    }
    logger.info({ url: urlOf(admin) }, 'admin listener: /metrics without a token, the admin API at /api/v1 with one');
  }

  // Loaded in the background: the server answers at once, with an empty guide until the first load is done.
  void surfaces.guide.start(logger);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= Promise.all([...[server, admin].map(closeGracefully), surfaces.guide.stop()]).then(() => surfaces.afterStop?.()));
  return { server, url: urlOf(server), ...(admin ? { adminUrl: urlOf(admin) } : {}), stop };
}

/** Stops accepting, closes idle keep-alive connections, and resolves once requests in flight are done. */
function closeGracefully(server: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
