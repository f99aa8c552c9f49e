import type { IncomingHttpHeaders, ServerOptions } from 'node:http';
import type { Context, Next } from 'koa';
import { isAuthPath } from '../routes.js';

/** A playlist URL is ~60 characters; nothing legitimate comes near these. The fast paths hold to it too. */
export const MAX_PATH_LENGTH = 1024;
/** @internal Exported so that tests send one byte over it. */
export const MAX_QUERY_LENGTH = 1024;
/**
 * Flussonic asks the auth backend with the viewer's facts in the query, the viewer's own query
 * string (`qs`) and user agent among them: a few hundred characters, more with a long user agent.
 * @internal Exported so that tests send one byte over it.
 */
export const MAX_AUTH_QUERY_LENGTH = 4096;
/** Bodies are never read. A declared body past this is refused rather than drained. */
const MAX_BODY_BYTES = 64 * 1024;
const ALLOWED_METHODS = ['GET', 'HEAD', 'POST'] as const;

/**
 * What node's HTTP server enforces before koa sees a request: header size (431 from node itself)
 * and how long a client may take to send headers and the whole request (slow-loris clients: 408,
 * then the connection is closed). Node looks for overdue requests only every
 * `connectionsCheckingInterval` (30 s by default, which let a client hold a connection for 28 to 41
 * s without headers); each look walks the open connections, so once a second costs little and
 * keeps the drop within a second of the timeout.
 */
export const SERVER_LIMITS: ServerOptions = {
  maxHeaderSize: 8 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000,
};

/** Whether a request declares a body (the paths answered in front of koa leave those to koa). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '' && length !== '0') || (headers['transfer-encoding'] ?? '') !== '';
}

export interface InputLimitOptions {
  /** Methods answered; any other is a 405 with `Allow`. */
  methods?: readonly string[];
  /** The app reads request bodies (the admin API), so a body keeps the connection open. */
  readsBodies?: boolean;
}

/**
 * Refuses what no player sends, before any routing: other methods (405 with `Allow`), an overlong
 * path or query (414) and a declared body past the cap (413). A request that carries a body is
 * answered with `Connection: close`, so that node does not keep draining what nobody reads.
 * Malformed percent-encoding needs nothing here: koa leaves the path encoded and the router's
 * decode falls back to the raw text, so such a path is simply not found (404).
 */
export function inputLimits({ methods = ALLOWED_METHODS, readsBodies = false }: InputLimitOptions = {}) {
  const allowed = new Set<string>(methods);
  // Not async: it only refuses or passes on, and koa-compose turns a throw here into a rejection.
  return function limitInput(ctx: Context, next: Next): Promise<void> {
    if (!allowed.has(ctx.method)) {
      ctx.throw(405, 'Method not allowed', { headers: { Allow: methods.join(', ') } });
    }
    if (ctx.path.length > MAX_PATH_LENGTH) ctx.throw(414, 'Path too long');
    if (ctx.querystring.length > (isAuthPath(ctx.path) ? MAX_AUTH_QUERY_LENGTH : MAX_QUERY_LENGTH)) ctx.throw(414, 'Query too long');
    if (declaresBody(ctx.req.headers)) {
      if (!readsBodies) ctx.set('Connection', 'close');
      if ((ctx.request.length ?? 0) > MAX_BODY_BYTES) ctx.throw(413, 'Body too large');
    }
    return next();
  };
}
