import { normalizeIp } from '../ip.js';
import type { StreamCheck } from './stream-check.js';

/**
 * Each streaming server's way of asking, read into one StreamCheck. Nothing here throws: a missing,
 * repeated or malformed fact becomes undefined, and the decision refuses it.
 */

type Query = Record<string, string | string[] | undefined>;

/** A parameter sent once; one sent twice is ambiguous (which one would the server act on?), so none. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/** The `token` parameter of a query string (`a=1&token=T`), or of a path with one (`/x?token=T`). */
function tokenIn(queryOrUri: string | undefined): string | undefined {
  if (!queryOrUri) return undefined;
  const at = queryOrUri.indexOf('?');
  const tokens = new URLSearchParams(at === -1 ? queryOrUri : queryOrUri.slice(at + 1)).getAll('token');
  return tokens.length === 1 ? tokens[0] : undefined;
}

/** A path without its query. */
function pathOf(uri: string | undefined): string | undefined {
  if (!uri?.startsWith('/')) return undefined;
  const at = uri.indexOf('?');
  return at === -1 ? uri : uri.slice(0, at);
}

const ipOf = (value: string | undefined) => (value ? normalizeIp(value) : undefined);

/** Flussonic's `on_play`: the session's facts as query parameters (`name`, `ip`, `token`, `session_id`, `proto`, `qs`, …). */
export function flussonicCheck(query: Query): StreamCheck {
  const name = single(query.name);
  return {
    dialect: 'flussonic',
    token: single(query.token) || tokenIn(single(query.qs)),
    ip: ipOf(single(query.ip)),
    stream: name === undefined || name === '' ? undefined : name.replace(/^\/+/, ''),
    sessionId: single(query.session_id) || undefined,
    proto: single(query.proto),
  };
}

/** Cesbo Astra (`X-Real-IP`, `X-Session-ID`) and Alta (`X-Real-Ip`, `X-Session-Id`): headers are case-blind. */
export function cesboCheck(header: (name: string) => string): StreamCheck {
  const realPath = header('X-Real-Path');
  return {
    dialect: 'cesbo',
    token: tokenIn(realPath),
    ip: ipOf(header('X-Real-IP')),
    path: pathOf(realPath),
    sessionId: header('X-Session-ID') || undefined,
  };
}

/** nginx `auth_request`: `X-Original-URI` ($request_uri) and `X-Real-IP` ($remote_addr). */
export function nginxCheck(header: (name: string) => string): StreamCheck {
  const uri = header('X-Original-URI');
  return { dialect: 'nginx', token: tokenIn(uri), ip: ipOf(header('X-Real-IP')), path: pathOf(uri) };
}
