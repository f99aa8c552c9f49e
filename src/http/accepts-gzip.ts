import type { IncomingMessage } from 'node:http';
import accepts from 'accepts';

/**
 * Gzip only for a client that asks for it: some set-top boxes cannot inflate. As koa's
 * `ctx.acceptsEncodings` (the same library), a client that sends no Accept-Encoding gets
 * `identity`, so plain bytes. Takes the request itself, so that the paths answered in front of koa
 * decide alike.
 */
export function acceptsGzip(req: IncomingMessage): boolean {
  return accepts(req).encoding('gzip', 'identity') === 'gzip';
}
