import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { nginxCheck } from '../auth/dialects.js';
import type { Awaitable } from '../awaitable.js';
import type { Logger } from '../logger.js';
import { AUTH_NGINX_PATH } from '../routes.js';
import type { AuthAnswer, AuthAnswerer } from './auth-routes.js';
import { clientIp } from './client-ip.js';
import { answerError } from './error-handler.js';
import { requestLineWriter } from './request-log.js';

/**
 * nginx's `auth_request` asks for every request it serves, segments included, so its exact path
 * is answered here, in front of koa: koa's context, the router and the middleware cost several
 * times the decision itself. It keeps what they would give this path: the request-log line (with
 * the reason of a refusal), the metrics (in the answerer), and the error handler's answer (a 503
 * for a busy database rather than a stack). Any other spelling of the path, method or request goes
 * on to koa's route, which answers the same. Returns whether it answered.
 */
export function nginxAuthFastPath(answerer: AuthAnswerer, logger: Logger, trustProxy: BlockList) {
  const writeLine = requestLineWriter(logger);
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' || req.url !== AUTH_NGINX_PATH) return false;
    const started = performance.now();
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return typeof value === 'string' ? value : '';
    };
    const finish = (status: number, subscriber?: number, reason?: string): void => {
      const ip = clientIp(req.socket.remoteAddress, header('X-Forwarded-For') || undefined, trustProxy);
      writeLine({ method: 'GET', path: AUTH_NGINX_PATH, status, started, ip, subscriber, reason });
    };
    const send = ({ status, headers, body, subscriberId, reason }: AuthAnswer): void => {
      res.writeHead(status, headers);
      res.end(status === 204 ? undefined : body);
      finish(status, subscriberId, reason);
    };
    const failed = (error: unknown): void => {
      const answer = answerError(error, logger, AUTH_NGINX_PATH);
      res.writeHead(answer.status, { ...answer.headers, 'Content-Length': String(Buffer.byteLength(answer.body)) });
      res.end(answer.body);
      finish(answer.status);
    };
    let answered: Awaitable<AuthAnswer>;
    try {
      answered = answerer(nginxCheck(header));
    } catch (error) {
      failed(error);
      return true;
    }
    // A decision that waits (PostgreSQL: a subscriber not remembered, a new session) answers when
    // it settles; the rest at once, in this call.
    if (answered instanceof Promise) answered.then(send, failed);
    else send(answered);
    return true;
  };
}
