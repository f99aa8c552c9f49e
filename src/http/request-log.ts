import type { Context, Next } from 'koa';
import { flatLineLogger, type Logger } from '../logger.js';
import { loggablePath } from '../routes.js';

/** One line per request: method, path without its key, status, duration, client IP, subscriber id. */
export function requestLog(serverLogger: Logger) {
  const logger = flatLineLogger(serverLogger);
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    ctx.state.logPath = loggablePath(ctx.path);
    try {
      await next();
    } finally {
      logger.info(
        {
          method: ctx.method,
          path: ctx.state.logPath,
          status: ctx.status,
          ms: Math.round((performance.now() - started) * 100) / 100,
          ip: ctx.state.clientIp,
          subscriber: ctx.state.subscriberId,
          // Why the auth backend refused: here and in the metrics only, never in the answer.
          reason: ctx.state.denyReason,
        },
        'request',
      );
    }
  };
}
