import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { nginxCheck } from '../auth/dialects.js';
import { isDatabaseBusy, isDatabaseDamaged } from '../db/open.js';
import { flatLineLogger, type Logger } from '../logger.js';
import { AUTH_NGINX_PATH } from '../routes.js';
import type { AuthAnswerer } from './auth-routes.js';
import { clientIp } from './client-ip.js';

/** As the error handler answers a busy database. */
const BUSY_RETRY_AFTER_SECONDS = '5';

/**
 * nginx's `auth_request` asks for every request it serves, segments included, so its exact path
 * is answered here, in front of koa: koa's context, the router and the middleware cost several
 * times the decision itself. It keeps what they would give this path: the request-log line (with
 * the reason of a refusal), the metrics (in the answerer), and a 503 for a busy database rather than
 * a stack. Any other spelling of the path, method or request goes on to koa's route, which answers
 * the same. Returns whether it answered.
 */
export function nginxAuthFastPath(answerer: AuthAnswerer, serverLogger: Logger, trustProxy: BlockList) {
  const logger = flatLineLogger(serverLogger);
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' || req.url !== AUTH_NGINX_PATH) return false;
    const started = performance.now();
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return typeof value === 'string' ? value : '';
    };
    let status: number;
    let subscriber: number | undefined;
    let reason: string | undefined;
    try {
      const answer = answerer(nginxCheck(header));
      ({ status, subscriberId: subscriber, reason } = answer);
      res.writeHead(status, answer.headers);
      res.end(status === 204 ? undefined : answer.body);
    } catch (error) {
      const busy = isDatabaseBusy(error) || isDatabaseDamaged(error);
      status = busy ? 503 : 500;
      if (busy) logger.warn({ code: (error as { code?: string }).code, path: AUTH_NGINX_PATH }, (error as Error).message);
      else serverLogger.error({ err: error, path: AUTH_NGINX_PATH }, 'unhandled error');
      res.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-store, private',
        ...(busy ? { 'Retry-After': BUSY_RETRY_AFTER_SECONDS } : {}),
      });
      res.end(busy ? 'Busy, try again shortly\n' : 'Internal error\n');
    }
    logger.info(
      {
        method: 'GET',
        path: AUTH_NGINX_PATH,
        status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        ip: clientIp(req.socket.remoteAddress, header('X-Forwarded-For') || undefined, trustProxy),
        subscriber,
        reason,
      },
      'request',
    );
    return true;
  };
}
