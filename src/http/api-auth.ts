import type { Context, Next } from 'koa';
import { ForbiddenError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import type { ApiRunner } from './api-runner.js';
import { type GuessLimiter, guessBucket } from './guess-limiter.js';

const READS = new Set(['GET', 'HEAD']);

/**
 * `Authorization: Bearer TOKEN` for the admin API. A wrong token counts as a failed guess in the
 * same per-address limiter as playlist keys (so a guesser cannot switch targets to double its
 * tries), and an address it blocks is answered 429 before its token costs a lookup. No header at
 * all is not a guess: it is a 401 that says what is missing. A read-only token gets 403 on a write.
 */
export function bearerAuth(tokens: Pick<ApiRunner, 'authenticate'>, limiter: GuessLimiter) {
  return async function authenticate(ctx: Context, next: Next): Promise<void> {
    const bucket = guessBucket(ctx.state.clientIp as string);
    const retryAfter = limiter.retryAfter(bucket);
    if (retryAfter !== undefined)
      throw new TooManyRequestsError('Too many failed tokens or keys from your address. Try again later.', retryAfter);
    const header = ctx.get('Authorization');
    if (header === '') throw new UnauthorizedError('send Authorization: Bearer TOKEN (lineup api-token add NAME)');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    const token = match ? await tokens.authenticate(match[1]!) : undefined;
    if (!token) {
      limiter.recordFailure(bucket);
      throw new UnauthorizedError('the bearer token is not known (revoked, or mistyped)');
    }
    if (token.readOnly && !READS.has(ctx.method)) throw new ForbiddenError(`the token "${token.name}" is read-only`);
    ctx.state.apiToken = token;
    await next();
  };
}
