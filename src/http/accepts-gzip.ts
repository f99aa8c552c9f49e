import type { IncomingMessage } from 'node:http';
import accepts from 'accepts';

/**
 * Gzip only for a client that asks for it: some set-top boxes cannot inflate. As koa's
 * `ctx.acceptsEncodings` (the same library), a client that sends no Accept-Encoding gets
 * `identity`, so plain bytes. Takes the request itself, so that the paths answered in front of koa
 * decide alike.
 */
export function acceptsGzip(req: IncomingMessage): boolean {
  // None and an empty header negotiate alike (identity).
  const header = req.headers['accept-encoding'] ?? '';
  // A fleet sends a handful of spellings: each is negotiated once rather than at every refresh.
  let gzip = answers.get(header);
  if (gzip === undefined) {
    gzip = accepts(req).encoding('gzip', 'identity') === 'gzip';
    if (header.length <= MAX_REMEMBERED_LENGTH) {
      if (answers.size >= MAX_REMEMBERED) answers.clear();
      answers.set(header, gzip);
    }
  }
  return gzip;
}

/** Accept-Encoding values already negotiated, and whether each takes gzip; bounded, since clients write what they like. */
const answers = new Map<string, boolean>();
const MAX_REMEMBERED = 64;
const MAX_REMEMBERED_LENGTH = 256;
