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
function errorHeadersOf(error: unknown): Record<string, string> {
  const headers = (error as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return {};
  return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
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

/** An error's answer, decided once for koa's handler and the paths answered in front of koa. */
export interface ErrorAnswer {
  status: number;
  /** Content-Type included. */
  headers: Record<string, string>;
  body: string;
}

/**
 * A status and a short plain-text reason for `error`, never a stack; logged when it is ours (a
 * 500) or the database's (a 503). `logPath` is the request's path as it may be logged.
 */
export function answerError(error: unknown, logger: Logger, logPath: string | undefined): ErrorAnswer {
  const status = statusOf(error);
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store, private' };
  if (error instanceof TooManyRequestsError) headers['Retry-After'] = String(error.retryAfterSeconds);
  if (status < 500) Object.assign(headers, errorHeadersOf(error));
  if (error instanceof UnauthorizedError) headers['WWW-Authenticate'] = 'Bearer realm="lineup"';
  let body: string;
  if (status === 503) {
    headers['Retry-After'] = String(BUSY_RETRY_AFTER_SECONDS);
    const damaged = isDatabaseDamaged(error);
    body = error instanceof UnavailableError ? `${error.message}\n` : damaged ? 'Database unavailable\n' : 'Busy, try again shortly\n';
    logger[damaged ? 'error' : 'warn']({ code: (error as { code?: string }).code, path: logPath }, (error as Error).message);
  } else if (error instanceof WrongCredentialsError && error.json) {
    // XC clients read this body; a 200 here crashes some of them (they take any 2xx for a login).
    headers['Content-Type'] = 'application/json; charset=utf-8';
    body = XC_AUTH_FAILED;
  } else if (error instanceof LineupError) {
    body = `${error.message}\n`;
  } else if (status < 500) {
    body = `${(error as { expose?: boolean; message?: string }).expose ? (error as Error).message : 'Bad request'}\n`;
  } else {
    body = 'Internal error\n';
    logger.error({ err: error, path: logPath }, 'unhandled error');
  }
  return { status, headers, body };
}

/**
 * The one place errors become responses in koa (answerError); under the admin API
 * (`ctx.state.problemJson`), the same as `application/problem+json`.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      const { status, headers, body } = answerError(error, logger, ctx.state.logPath);
      resetHeaders(ctx);
      ctx.status = status;
      ctx.set(headers);
      ctx.body = body;
      if (ctx.state.problemJson === true) {
        ctx.body = problemOf(error, status, body.trimEnd());
        ctx.type = 'application/problem+json';
      }
    }
  };
}
