import { secureLinkMd5 } from './nginx-secure-link.js';
import { encodedStreamName, encodedStreamPath, type Origin, type SigningScheme, type StreamFormat, streamPath } from './origin.js';
import { NO_CHECK_IP, securetokenFor } from './securetoken.js';

/**
 * The query string (without `?`) that authorises one stream path for one viewer. Pure; `salt` is
 * `[0-9a-f]{16,32}` from a cryptographic source, and schemes without a salt ignore it.
 */
export type QuerySigner = (stream: string, path: string, ip: string, now: number, origin: Origin, salt: string) => string;

function hashSubject(stream: string, path: string, origin: Origin): string {
  switch (origin.hashSubject) {
    case 'stream':
      return stream;
    case 'id':
      return stream.slice(stream.lastIndexOf('/') + 1);
    case 'path':
      return path;
  }
}

/** A query signer already bound to one viewer, time, salt and origin: `(stream, path) → query`. */
export type BoundQuerySigner = (stream: string, path: string) => string;

const bindFlussonic = (ip: string, now: number, origin: Origin, salt: string): BoundQuerySigner => {
  const starttime = now - origin.tokenDesync;
  const token = securetokenFor({
    ip: origin.ipBinding === 'none' ? NO_CHECK_IP : ip,
    starttime,
    endtime: starttime + origin.tokenTtl,
    key: origin.secret,
    salt,
  });
  return (stream, path) => 'token=' + token(hashSubject(stream, path, origin));
};

const flussonicQuery: QuerySigner = (stream, path, ip, now, origin, salt) =>
  bindFlussonic(ip, now, origin, salt)(stream, path);

const nginxQuery: QuerySigner = (_stream, path, ip, now, origin) => {
  const expires = now + origin.tokenTtl;
  const md5 = secureLinkMd5({ uri: path, ip: origin.ipBinding === 'none' ? '' : ip, expires, secret: origin.secret });
  return `md5=${md5}&expires=${expires}`;
};

/** New schemes plug in here; the playlist code only looks them up. */
export const querySigners: Record<SigningScheme, QuerySigner> = { flussonic: flussonicQuery, nginx: nginxQuery };

/**
 * Binds an origin's signer to one viewer for a whole playlist. Flussonic joins its shared input
 * once; schemes without a cheaper bound form just close over their plain signer.
 */
export function bindQuerySigner(ip: string, now: number, origin: Origin, salt: string): BoundQuerySigner {
  if (origin.scheme === 'flussonic') return bindFlussonic(ip, now, origin, salt);
  const sign = querySigners[origin.scheme];
  return (stream, path) => sign(stream, path, ip, now, origin, salt);
}

export interface SignOptions {
  origin: Origin;
  format: StreamFormat;
  salt: string;
}

/** Signs `stream` for `ip` at `now` (Unix seconds) with the origin's scheme and returns the full URL. */
export function signStreamUrl(stream: string, ip: string, now: number, { origin, format, salt }: SignOptions): string {
  const query = querySigners[origin.scheme](stream, streamPath(stream, format), ip, now, origin, salt);
  return `${origin.baseUrl}${encodedStreamPath(stream, format)}?${query}`;
}

/**
 * Signs any file of a stream, such as the DVR paths `index-FROM-DURATION.m3u8` and
 * `timeshift_abs-FROM.ts`. `file` is Lineup's own (never operator text), so it is not encoded.
 */
export function signStreamFileUrl(
  stream: string,
  file: string,
  ip: string,
  now: number,
  { origin, salt }: Omit<SignOptions, 'format'>,
): string {
  const query = querySigners[origin.scheme](stream, `/${stream}/${file}`, ip, now, origin, salt);
  return `${origin.baseUrl}/${encodedStreamName(stream)}/${file}?${query}`;
}
