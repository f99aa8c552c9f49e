import type { Context, Next } from 'koa';
import { BadInputError, ForbiddenError, LineupError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';

function statusOf(error: unknown): number {
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof BadInputError) return 400;
  const status = (error as { status?: unknown }).status;
  // koa's own client errors (e.g. ctx.throw(400)); anything else is ours to fix.
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return 500;
}

/** The one place errors become responses: a status and a short plain-text reason, never a stack. */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      const status = statusOf(error);
      ctx.status = status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.set('Cache-Control', 'no-store, private');
      if (error instanceof LineupError) {
        ctx.body = `${error.message}\n`;
      } else if (status < 500) {
        ctx.body = `${(error as { expose?: boolean; message?: string }).expose ? (error as Error).message : 'Bad request'}\n`;
      } else {
        ctx.body = 'Internal error\n';
        logger.error({ err: error, path: ctx.state.logPath }, 'unhandled error');
      }
    }
  };
}
