import { issueBackendToken, type TokenHolder } from './backend-token.js';
import { HashSubject, SHA1_HEX_WIDTH } from './hash-subject.js';
import { secureLinkMd5 } from './nginx-secure-link.js';
import { encodedStreamName, encodedStreamPath, type Origin, type SigningScheme, type StreamFormat, streamPath } from './origin.js';
import { NO_CHECK_IP, type SecuretokenInput, securetoken, securetokenFor } from './securetoken.js';

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

/** One stream as its origin's scheme signs it, prepared once per lineup. */
export interface SignableStream {
  /** The unencoded request path (`/live/ch1/index.m3u8`), which nginx secure_link covers. */
  path: string;
  /** What a securetoken covers: the stream name, id or path, as the origin is set up. */
  subject: HashSubject;
}

export function signableStream(stream: string, path: string, origin: Origin): SignableStream {
  return { path, subject: new HashSubject(hashSubject(stream, path, origin)) };
}

/**
 * One viewer's query string (without `?`) for every stream of one origin: text that is the same
 * for all of them (the frame) with a per-stream digest in it, `token=DIGEST-salt-end-start` or
 * `md5=DIGEST&expires=E`. A playlist writes the frame and the digest; nothing is concatenated.
 */
export interface BoundQuery {
  /** The query as ASCII, with blanks where the digest goes. */
  frame: Buffer;
  /** Writes the stream's digest over the blanks of a copy of the frame at `frameAt` in `out`. */
  writeDigest(stream: SignableStream, out: Buffer, frameAt: number): void;
  /**
   * Set when the digest is the hex of `sha1(subject ‖ suffix)` at `digestAt` in the frame: a
   * playlist can then sign all of the origin's streams in one batch (sha1-lanes.ts).
   */
  sha1?: { digestAt: number; suffix: Buffer };
}

/**
 * A scheme's query, bound once per playlist to what all its channels share, so that a channel
 * costs no more than its own hash. Pure; `salt` is `[0-9a-f]{16,32}` from a cryptographic source,
 * and schemes without a salt ignore it.
 */
type SchemeSigner = (ip: string, now: number, origin: Origin, salt: string, holder: TokenHolder | undefined) => BoundQuery;

/** A frame: the text before the digest, blanks as wide as it, the text after; and where the digest goes. */
function frame(before: string, digestWidth: number, after: string): { frame: Buffer; digestAt: number } {
  return { frame: Buffer.from(before + ' '.repeat(digestWidth) + after, 'latin1'), digestAt: before.length };
}

const MD5_BASE64URL_WIDTH = 22;

/** What a Flussonic token covers besides its subject, for one viewer at `now`. */
function flussonicShared(ip: string, now: number, origin: Origin, salt: string): Omit<SecuretokenInput, 'subject'> {
  const starttime = now - origin.tokenDesync;
  return { ip: origin.ipBinding === 'none' ? NO_CHECK_IP : ip, starttime, endtime: starttime + origin.tokenTtl, key: origin.secret, salt };
}

/**
 * Field by field, not `{ subject, ...shared }`: V8 copies a spread into a literal property by
 * property in its runtime, a few microseconds at every XC zap.
 */
function withSubject({ ip, starttime, endtime, key, salt }: Omit<SecuretokenInput, 'subject'>, subject: string): SecuretokenInput {
  return { subject, ip, starttime, endtime, key, salt };
}

const flussonic: SchemeSigner = (ip, now, origin, salt) => {
  const token = securetokenFor(flussonicShared(ip, now, origin, salt));
  const { frame: text, digestAt } = frame('token=', SHA1_HEX_WIDTH, token.tail);
  return {
    frame: text,
    writeDigest: (stream, out, frameAt) => token.writeDigest(stream.subject, out, frameAt + digestAt),
    sha1: { digestAt, suffix: token.suffix },
  };
};

const nginx: SchemeSigner = (ip, now, origin) => {
  const expires = now + origin.tokenTtl;
  const boundIp = origin.ipBinding === 'none' ? '' : ip;
  const { frame: text, digestAt } = frame('md5=', MD5_BASE64URL_WIDTH, `&expires=${expires}`);
  return {
    frame: text,
    writeDigest: (stream, out, frameAt) =>
      void out.write(secureLinkMd5({ uri: stream.path, ip: boundIp, expires, secret: origin.secret }), frameAt + digestAt, 'latin1'),
  };
};

/**
 * One token for every stream of the viewer's playlist: it names the subscriber, not the stream,
 * since the auth backend checks the stream against the live database when the origin asks. So a
 * channel costs a copy of the frame, and no hash.
 */
const backend: SchemeSigner = (ip, now, origin, _salt, holder) => {
  if (!holder) throw new Error(`origin ${origin.name}: a backend token needs the subscriber it is issued to`);
  const token = issueBackendToken({
    holder,
    ip: origin.ipBinding === 'none' ? undefined : ip,
    expires: now + origin.tokenTtl,
    secret: origin.secret,
  });
  return { frame: Buffer.from(`token=${token}`, 'latin1'), writeDigest: () => {} };
};

/** New schemes plug in here; the playlist code only looks them up. */
const schemeSigners: Record<SigningScheme, SchemeSigner> = { flussonic, nginx, backend };

/** Binds an origin's scheme to one viewer for a whole playlist; `holder` is needed by `backend` origins only. */
export function bindQuery(ip: string, now: number, origin: Origin, salt: string, holder?: TokenHolder): BoundQuery {
  return schemeSigners[origin.scheme](ip, now, origin, salt, holder);
}

/** The query for one stream as text, for links signed one at a time. */
function queryText(bound: BoundQuery, stream: SignableStream): string {
  const query = Buffer.from(bound.frame);
  bound.writeDigest(stream, query, 0);
  return query.toString('latin1');
}

export interface SignOptions {
  origin: Origin;
  format: StreamFormat;
  salt: string;
  /** The subscriber, for `backend` origins. */
  holder?: TokenHolder;
}

/** Signs `stream` for `ip` at `now` (Unix seconds) with the origin's scheme and returns the full URL. */
export function signStreamUrl(stream: string, ip: string, now: number, { origin, format, salt, holder }: SignOptions): string {
  const path = streamPath(stream, format);
  // A stream link's redirect (every zap) signs one URL: a Flussonic token is then one string hashed,
  // not a frame and a hash subject prepared for a playlist's many streams.
  const query =
    origin.scheme === 'flussonic'
      ? `token=${securetoken(withSubject(flussonicShared(ip, now, origin, salt), hashSubject(stream, path, origin)))}`
      : queryText(bindQuery(ip, now, origin, salt, holder), signableStream(stream, path, origin));
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
  { origin, salt, holder }: Omit<SignOptions, 'format'>,
): string {
  const query = queryText(bindQuery(ip, now, origin, salt, holder), signableStream(stream, `/${stream}/${file}`, origin));
  return `${origin.baseUrl}/${encodedStreamName(stream)}/${file}?${query}`;
}
