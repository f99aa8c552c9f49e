import type { BlockList } from 'node:net';
import Koa from 'koa';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PlaylistService } from '../playlist/playlist-service.js';
import { clientIp } from './client-ip.js';
import { errorHandler } from './error-handler.js';
import { healthRoutes } from './health-routes.js';
import { playlistRoutes } from './playlist-routes.js';
import { requestLog } from './request-log.js';

export interface HttpDependencies {
  playlists: PlaylistService;
  databaseAnswers: () => boolean;
  trustProxy: BlockList;
  logger: Logger;
}

export function createHttpApp({ playlists, databaseAnswers, trustProxy, logger }: HttpDependencies): Koa {
  // koa's own proxy support believes the left-most X-Forwarded-For entry; client-ip.ts does not.
  const app = new Koa({ proxy: false });
  // Errors are answered and logged by errorHandler; koa's default handler would print stacks.
  app.silent = true;

  const playlist = playlistRoutes(playlists);
  const health = healthRoutes(databaseAnswers);

  app.use(requestLog(logger));
  app.use(errorHandler(logger));
  app.use(async (ctx, next) => {
    ctx.state.clientIp = clientIp(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined, trustProxy);
    await next();
  });
  app.use(playlist.routes());
  app.use(health.routes());
  app.use((ctx) => {
    if (ctx.body === undefined && ctx.status === 404) throw new NotFoundError('Not found');
  });
  return app;
}
