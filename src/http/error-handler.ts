import type { Context, Next } from 'koa';
import { isDatabaseBusy, isDatabaseDamaged } from '../db/open.js';
import {
  BadInputError,
  ConflictError,
  ForbiddenError,
  GoneError,
  IdempotencyKeyReusedError,
  LineupError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  WrongCredentialsError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { problemOf } from './problem.js';

const XC_AUTH_FAILED = '{"user_info":{"auth":0}}';

/** Seconds a client is asked to wait when the database (or another worker) is busy. */
const BUSY_RETRY_AFTER_SECONDS = 5;

function statusOf(error: unknown): number {
  if (error instanceof TooManyRequestsError) return 429;
  // A lock held by a long admin transaction, or a worker slow to answer: temporary, so a 503.
  if (isDatabaseBusy(error) || error instanceof UnavailableError) return 503;
  // A damaged database file: the server cannot serve until an operator restores it, and /healthz says so.
  if (isDatabaseDamaged(error)) return 503;
  // decodeURIComponent on malformed percent-encoding: the request's fault, whoever decoded it.
  if (error instanceof URIError) return 400;
  if (error instanceof WrongCredentialsError) return 401;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof GoneError) return 410;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof IdempotencyKeyReusedError) return 422;
  if (error instanceof ConflictError) return 409;
  if (error instanceof BadInputError) return 400;
  const status = (error as { status?: unknown }).status;
  // koa's own client errors (e.g. ctx.throw(400)); anything else is ours to fix.
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return 500;
}

/** Headers a koa client error asks for, such as `Allow` on a 405 (`ctx.throw(405, msg, { headers })`). */
function setErrorHeaders(ctx: Context, error: unknown): void {
  const headers = (error as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') ctx.set(name, value);
  }
}

/**
 * Removes every header set before the throw, as koa's own `ctx.onerror` does: a route that had
 * already set its ETag, Content-Encoding or Content-Type would otherwise send them over the error's
 * plain-text body (a cache keeping a 500 as the playlist, a client gunzipping text). Headers an
 * error needs travel with it (`ctx.throw(401, msg, { headers })`). Kept: `Connection: close`, which
 * is about the connection rather than the body (a body left unread).
 */
function resetHeaders(ctx: Context): void {
  const connection = ctx.response.get('Connection');
  for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name);
  if (connection) ctx.set('Connection', connection);
}

/**
 * The one place errors become responses: a status and a short plain-text reason, never a stack;
 * under the admin API (`ctx.state.problemJson`), the same as `application/problem+json`.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      const status = statusOf(error);
      resetHeaders(ctx);
      ctx.status = status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.set('Cache-Control', 'no-store, private');
      if (error instanceof TooManyRequestsError) ctx.set('Retry-After', String(error.retryAfterSeconds));
      if (status < 500) setErrorHeaders(ctx, error);
      if (error instanceof UnauthorizedError) ctx.set('WWW-Authenticate', 'Bearer realm="lineup"');
      if (status === 503) {
        ctx.set('Retry-After', String(BUSY_RETRY_AFTER_SECONDS));
        const damaged = isDatabaseDamaged(error);
        ctx.body =
          error instanceof UnavailableError ? `${error.message}\n` : damaged ? 'Database unavailable\n' : 'Busy, try again shortly\n';
        logger[damaged ? 'error' : 'warn']({ code: (error as { code?: string }).code, path: ctx.state.logPath }, (error as Error).message);
      } else if (error instanceof WrongCredentialsError && error.json) {
        // XC clients read this body; a 200 here crashes some of them (they take any 2xx for a login).
        ctx.type = 'application/json';
        ctx.body = XC_AUTH_FAILED;
      } else if (error instanceof LineupError) {
        ctx.body = `${error.message}\n`;
      } else if (status < 500) {
        ctx.body = `${(error as { expose?: boolean; message?: string }).expose ? (error as Error).message : 'Bad request'}\n`;
      } else {
        ctx.body = 'Internal error\n';
        logger.error({ err: error, path: ctx.state.logPath }, 'unhandled error');
      }
      if (ctx.state.problemJson === true) {
        ctx.body = problemOf(error, status, String(ctx.body).trimEnd());
        ctx.type = 'application/problem+json';
      }
    }
  };
}
