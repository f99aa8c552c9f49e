import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList, Socket } from 'node:net';
import accepts from 'accepts';
import encodeUrl from 'encodeurl';
import escapeHtml from 'escape-html';
import { type Awaitable, andThen } from '../awaitable.js';
import type { Logger } from '../logger.js';
import type { LineupMetrics } from '../metrics.js';
import type { PlayLocation } from '../playlist/stream-redirect.js';
import { canonicalPath, loggablePath } from '../routes.js';
import type { XtreamService } from '../xtream/xtream-service.js';
import { clientIp } from './client-ip.js';
import { answerError } from './error-handler.js';
import { GuessGuard, type GuessLimiter } from './guess-limiter.js';
import { declaresBody, MAX_PATH_LENGTH } from './input-limits.js';
import { requestCounter } from './metrics-routes.js';
import type { PlaylistAnswerer } from './playlist-routes.js';
import { requestLineWriter } from './request-log.js';
import { locateXcLive } from './xtream-routes.js';

/** What an answer in front of koa sends. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string | undefined;
  subscriberId?: number;
}

/**
 * The exact spellings answered here: one segment per parameter, no escape, no query or fragment.
 * `.` and `..` segments, a trailing slash or an upper-case first segment fail `canonicalPath` below.
 */
const PLAYLIST_PATH = /^\/playlist\/([^/?#%]+)$/;
const PLAYLIST_LOG_PATH = loggablePath('/playlist/KEY.m3u');
const XC_LIVE_PATH = /^\/live\/([^/?#%]+)\/([^/?#%]+)\/([^/?#%]+)$/;

export interface KeyedFastPathDependencies {
  playlist: PlaylistAnswerer;
  /** Absent where the XC API is not served: its links go on to koa, which answers 404. */
  xtream?: XtreamService | undefined;
  /** The koa app's limiter: one count per address whichever answers. */
  guessLimiter: GuessLimiter;
  metrics: LineupMetrics;
  logger: Logger;
  trustProxy: BlockList;
}

/**
 * A playlist refresh (`/playlist/KEY.m3u`, a 304 for most of a fleet) and an Xtream Codes live link
 * (`/live/U/P/ID.ts`, asked at every zap) are answered here, in front of koa, whose context, router
 * and middleware chain cost more than the answer itself. Each step is the koa path's own function:
 * the client address, the guess guard, the route's answer, the error's answer, the metrics and the
 * log line; so the status, headers, body, counts and line are the same. Any other method, spelling,
 * query or a declared body goes on to koa. Returns whether it answered.
 */
export function keyedFastPath({ playlist, xtream, guessLimiter, metrics, logger, trustProxy }: KeyedFastPathDependencies) {
  const guard = new GuessGuard(guessLimiter, metrics);
  const counterFor = requestCounter(metrics);
  const writeLine = requestLineWriter(logger);
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const { method, url = '' } = req;
    if ((method !== 'GET' && method !== 'HEAD') || url.length > MAX_PATH_LENGTH || declaresBody(req.headers)) return false;
    let answer: (ip: string) => Awaitable<Answer>;
    const file = PLAYLIST_PATH.exec(url)?.[1];
    if (file !== undefined) {
      answer = (ip) => playlist({ file, output: undefined, ip, req, res });
    } else {
      const live = xtream && XC_LIVE_PATH.exec(url);
      if (!live) return false;
      answer = (ip) =>
        andThen(locateXcLive(xtream, { username: live[1]!, password: live[2]! }, live[3]!, ip), (location) =>
          redirectAnswer(req, location),
        );
    }
    if (canonicalPath(url) !== url) return false;

    const started = performance.now();
    // node joins repeated X-Forwarded-For headers into one string, as koa's ctx.get reads it.
    const forwardedFor = req.headers['x-forwarded-for'];
    const ip =
      typeof forwardedFor === 'string' && forwardedFor !== ''
        ? clientIp(req.socket.remoteAddress, forwardedFor, trustProxy)
        : peerAddress(req.socket, trustProxy);
    const count = counterFor(url);
    // A canonical playlist path logs as every other one does (its one segment is the key); only
    // an XC link's username and channel stay in its line.
    const logPath = file !== undefined ? PLAYLIST_LOG_PATH : loggablePath(url);
    const finish = (sent: Answer): void => {
      send(res, method, sent);
      count?.(sent.status);
      writeLine({ method, path: logPath, status: sent.status, started, ip, subscriber: sent.subscriberId });
    };
    let bucket: string;
    let answered: Awaitable<Answer>;
    try {
      bucket = guard.admit(ip);
      try {
        answered = answer(ip);
      } catch (error) {
        guard.failed(bucket, error);
        throw error;
      }
    } catch (error) {
      finish(answerError(error, logger, logPath));
      return true;
    }
    // A lookup that waits (PostgreSQL, a subscriber not remembered) answers when it settles; the
    // rest at once, in this call, as before.
    if (answered instanceof Promise) {
      answered.then(finish, (error: unknown) => {
        guard.failed(bucket, error);
        finish(answerError(error, logger, logPath));
      });
    } else {
      finish(answered);
    }
    return true;
  };
}

/** A connection's peer never changes: its address, normalised, once per connection rather than per request. */
const peerAddresses = new WeakMap<Socket, string>();

/** The client address of a request without X-Forwarded-For: `clientIp` of the peer alone. */
function peerAddress(socket: Socket, trustProxy: BlockList): string {
  let address = peerAddresses.get(socket);
  if (address === undefined) {
    address = clientIp(socket.remoteAddress, undefined, trustProxy);
    peerAddresses.set(socket, address);
  }
  return address;
}

/** As koa's `ctx.redirect` (the same libraries): 302, the URL encoded, a short body in HTML or text as the client accepts. */
function redirectAnswer(req: IncomingMessage, { url, subscriberId }: PlayLocation): Answer {
  const target = /^https?:\/\//i.test(url) ? new URL(url).toString() : url;
  const html = accepts(req).type('html') !== false;
  return {
    status: 302,
    subscriberId,
    headers: {
      'Cache-Control': 'no-store',
      Location: encodeUrl(target),
      'Content-Type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    },
    body: `Redirecting to ${html ? escapeHtml(target) : target}.`,
  };
}

/** As koa sends: Content-Length for a body, none for a 304, and no body bytes for HEAD. */
function send(res: ServerResponse, method: string, { status, headers, body }: Answer): void {
  if (body === undefined || status === 304) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  // Into the answer's own headers (each answer makes its own): a spread and one more field would
  // be copied by V8's runtime, property by property.
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(method === 'HEAD' ? undefined : body);
}
