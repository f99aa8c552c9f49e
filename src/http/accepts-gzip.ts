import type { Context } from 'koa';

/**
 * Gzip only for a client that asks for it: some set-top boxes cannot inflate. koa answers
 * `identity` when no Accept-Encoding is sent, so a silent client gets plain bytes.
 */
export function acceptsGzip(ctx: Context): boolean {
  return ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
}
