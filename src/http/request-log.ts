import type { Context, Next } from 'koa';
import { flatLineLogger, type Logger, REQUEST_MESSAGE } from '../logger.js';
import { loggablePath } from '../routes.js';

/** What one request's log line says; `path` already without its key or password (loggablePath). */
export interface RequestLine {
  method: string;
  path: string;
  status: number;
  /** `performance.now()` when the request came in. */
  started: number;
  ip: string | undefined;
  subscriber: number | undefined;
  /** Why the auth backend refused: here and in the metrics only, never in the answer. */
  reason?: string | undefined;
}

/** Writes request lines, for koa's middleware and the paths answered in front of koa alike. */
export function requestLineWriter(serverLogger: Logger): (line: RequestLine) => void {
  const logger = flatLineLogger(serverLogger);
  return ({ method, path, status, started, ip, subscriber, reason }) => {
    logger.info(
      { method, path, status, ms: Math.round((performance.now() - started) * 100) / 100, ip, subscriber, reason },
      REQUEST_MESSAGE,
    );
  };
}

/** One line per request: method, path without its key, status, duration, client IP, subscriber id. */
export function requestLog(serverLogger: Logger) {
  const write = requestLineWriter(serverLogger);
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    ctx.state.logPath = loggablePath(ctx.path);
    try {
      await next();
    } finally {
      write({
        method: ctx.method,
        path: ctx.state.logPath,
        status: ctx.status,
        started,
        ip: ctx.state.clientIp,
        subscriber: ctx.state.subscriberId,
        reason: ctx.state.denyReason,
      });
    }
  };
}
