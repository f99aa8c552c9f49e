import { BadInputError } from '../errors.js';

// The values below are also CHECK lists in the `origins` table (and two of them environment
// variables); test/core/schema-enums.test.ts holds the two sides equal.

/**
 * A streaming server that Lineup signs links for. The default one is built from the environment.
 * `backend`: links carry a token Lineup issues, which its auth backend (`/auth/…`) verifies when
 * the streaming server asks (backend-token.ts).
 * @internal Exported for the test that holds it to the schema's CHECK list.
 */
export const SIGNING_SCHEMES = ['flussonic', 'nginx', 'backend'] as const;
export type SigningScheme = (typeof SIGNING_SCHEMES)[number];
/**
 * What the Flussonic-style hash covers:
 * - `stream`: the stream name (Flussonic);
 * - `id`: the stream name's last path segment (Cesbo Astra's channel id: `tv/news` → `news`);
 * - `path`: the request path, `/NAME/index.m3u8` (Cesbo Alta).
 * @internal Exported for the test that holds it to the schema's CHECK list.
 */
export const HASH_SUBJECTS = ['stream', 'id', 'path'] as const;
export type HashSubject = (typeof HASH_SUBJECTS)[number];
export const IP_BINDINGS = ['strict', 'none'] as const;
export type IpBinding = (typeof IP_BINDINGS)[number];
export type StreamFormat = 'hls' | 'ts';
/**
 * How playlists link to an origin's streams: `direct` signs the origin URL into the playlist;
 * `redirect` puts a stable Lineup URL there (`/play/KEY/CHANNEL.m3u8`) that signs on each request.
 */
export const LINK_MODES = ['direct', 'redirect'] as const;
export type LinkMode = (typeof LINK_MODES)[number];

export interface Origin {
  name: string;
  /** Scheme, host and optional path prefix, without a trailing slash. */
  baseUrl: string;
  scheme: SigningScheme;
  secret: string;
  ipBinding: IpBinding;
  hashSubject: HashSubject;
  /** Token lifetime in seconds. */
  tokenTtl: number;
  /** Seconds by which starttime is backdated, for clock skew between Lineup and the origin. */
  tokenDesync: number;
  /** `backend` only: the secret before the last rotation, still accepted when verifying. */
  previousSecret?: string;
}

export const DEFAULT_ORIGIN_NAME = 'default';

/** A row of `origins`: lifetimes left NULL fall back to the environment's. */
export interface OriginRow extends Omit<Origin, 'tokenTtl' | 'tokenDesync'> {
  tokenTtl: number | null;
  tokenDesync: number | null;
  /** NULL: LINK_MODE from the environment. */
  linkMode: LinkMode | null;
}

export function originFromRow(row: OriginRow, defaults: Pick<Origin, 'tokenTtl' | 'tokenDesync'>): Origin {
  return {
    name: row.name,
    baseUrl: row.baseUrl,
    scheme: row.scheme,
    secret: row.secret,
    ipBinding: row.ipBinding,
    hashSubject: row.hashSubject,
    tokenTtl: row.tokenTtl ?? defaults.tokenTtl,
    tokenDesync: row.tokenDesync ?? defaults.tokenDesync,
    ...(row.previousSecret === undefined ? {} : { previousSecret: row.previousSecret }),
  };
}

/** The path a player requests for a stream, as the origin serves it. */
export function streamPath(stream: string, format: StreamFormat): string {
  return format === 'ts' ? `/${stream}/mpegts` : `/${stream}/index.m3u8`;
}

/** What encodeURIComponent leaves as it is, and the slashes between segments. */
const UNENCODED_STREAM = /^[A-Za-z0-9\-_.!~*'()/]*$/;

/** The stream name for a URL: each segment percent-encoded, so that no `,`, space or quote reaches the M3U. */
export function encodedStreamName(stream: string): string {
  // Most names have nothing to encode; a stream link's redirect asks at every zap.
  if (UNENCODED_STREAM.test(stream)) return stream;
  return stream.split('/').map(encodeURIComponent).join('/');
}

/** The stream's path for the URL line (see encodedStreamName). */
export function encodedStreamPath(stream: string, format: StreamFormat): string {
  return streamPath(encodedStreamName(stream), format);
}

/** `?output=ts` (or `mpegts`) asks for MPEG-TS stream URLs; HLS is the default. */
export function parseStreamFormat(output: unknown): StreamFormat {
  if (output === undefined || output === '' || output === 'hls' || output === 'm3u8') return 'hls';
  if (output === 'ts' || output === 'mpegts') return 'ts';
  throw new BadInputError('output must be hls or ts');
}
