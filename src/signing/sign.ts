import { secureLinkMd5 } from './nginx-secure-link.js';
import { encodedStreamName, encodedStreamPath, type Origin, type SigningScheme, type StreamFormat, streamPath } from './origin.js';
import { NO_CHECK_IP, securetokenFor } from './securetoken.js';

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

/**
 * The query string (without `?`) that authorises one stream path, for a viewer, time, salt and
 * origin already bound: `(stream, path) → query`. `path` is the unencoded request path.
 */
export type BoundQuerySigner = (stream: string, path: string) => string;

/**
 * A scheme's signer, bound once per playlist to what all its channels share, so that a channel
 * costs no more than its own hash. Pure; `salt` is `[0-9a-f]{16,32}` from a cryptographic
 * source, and schemes without a salt ignore it.
 */
export type SchemeSigner = (ip: string, now: number, origin: Origin, salt: string) => BoundQuerySigner;

const flussonic: SchemeSigner = (ip, now, origin, salt) => {
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

const nginx: SchemeSigner = (ip, now, origin) => {
  const expires = now + origin.tokenTtl;
  const boundIp = origin.ipBinding === 'none' ? '' : ip;
  return (_stream, path) =>
    `md5=${secureLinkMd5({ uri: path, ip: boundIp, expires, secret: origin.secret })}&expires=${expires}`;
};

/** New schemes plug in here; the playlist code only looks them up. */
export const schemeSigners: Record<SigningScheme, SchemeSigner> = { flussonic, nginx };

/** Binds an origin's signer to one viewer for a whole playlist. */
export function bindQuerySigner(ip: string, now: number, origin: Origin, salt: string): BoundQuerySigner {
  return schemeSigners[origin.scheme](ip, now, origin, salt);
}

export interface SignOptions {
  origin: Origin;
  format: StreamFormat;
  salt: string;
}

/** Signs `stream` for `ip` at `now` (Unix seconds) with the origin's scheme and returns the full URL. */
export function signStreamUrl(stream: string, ip: string, now: number, { origin, format, salt }: SignOptions): string {
  const query = bindQuerySigner(ip, now, origin, salt)(stream, streamPath(stream, format));
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
  const query = bindQuerySigner(ip, now, origin, salt)(stream, `/${stream}/${file}`);
  return `${origin.baseUrl}/${encodedStreamName(stream)}/${file}?${query}`;
}
