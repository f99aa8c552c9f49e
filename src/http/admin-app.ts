import { BlockList } from 'node:net';
import Koa from 'koa';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type AdminApiDependencies, adminApi } from './api-routes.js';
import { clientIp } from './client-ip.js';
import { errorHandler } from './error-handler.js';
import { inputLimits } from './input-limits.js';
import { type MetricsExposition, metricsRoutes } from './metrics-routes.js';
import { requestLog } from './request-log.js';

export interface AdminDependencies {
  logger: Logger;
  /** What `/metrics` answers: this process's registry, or with WORKERS > 1 the whole cluster's. */
  metricsExposition: MetricsExposition;
  /** The admin API at /api/v1. */
  api: AdminApiDependencies;
}

const ADMIN_METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'];

/** No proxy stands in front of the admin listener: the address is the socket's. */
const NO_PROXY = new BlockList();

/**
 * The admin listener (ADMIN_HOST:ADMIN_PORT): `/metrics` without a token, since only the operator's
 * own network reaches it, and the admin API behind bearer tokens. Its own small app, so that
 * nothing public (playlists, keys) is served there, and nothing of it on the public port. It shares
 * the public listener's guess limiter: a wrong API token counts like a wrong playlist key.
 */
export function createAdminApp({ logger, metricsExposition, api }: AdminDependencies): Koa {
  const app = new Koa({ proxy: false });
  // Errors are answered and logged by errorHandler; koa's default handler would print stacks.
  app.silent = true;
  app.use(requestLog(logger.child({ listener: 'admin' })));
  app.use(errorHandler(logger));
  app.use((ctx, next) => {
    ctx.state.clientIp = clientIp(ctx.req.socket.remoteAddress, undefined, NO_PROXY);
    return next();
  });
  app.use(inputLimits({ methods: ADMIN_METHODS, readsBodies: true }));
  app.use(adminApi(api));
  app.use(metricsRoutes(metricsExposition, 'open').routes());
  app.use((ctx) => {
    if (ctx.body === undefined && ctx.status === 404) throw new NotFoundError('Not found');
  });
  return app;
}
