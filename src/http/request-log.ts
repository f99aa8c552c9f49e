import type { Context, Next } from 'koa';
import { flatLineLogger, type Logger } from '../logger.js';

/** Paths whose second segment is a playlist key; the key must never reach a log line. */
const KEYED_PATH = /^\/(playlist|play)\/[^/]*/;

/** A path that carries a playlist key: logged without it, and guarded against key guessing. */
export function isKeyedPath(path: string): boolean {
  return KEYED_PATH.test(path);
}

export function loggablePath(path: string): string {
  return path.replace(KEYED_PATH, '/$1/[key]');
}

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
        },
        'request',
      );
    }
  };
}
