import { hash } from 'node:crypto';
import type { IpBinding, LinkMode } from '../signing/origin.js';

/**
 * Every setting that changes a playlist's bytes for the same database, subscriber and request.
 * Values that are already in the database (origins, the lineup, the subscriber) are not here: the
 * ETag has the lineup version and the subscriber's fields for those.
 */
export interface PlaylistBytesSettings {
  originUrl: string;
  publicUrl: string;
  linkMode: LinkMode;
  ipBinding: IpBinding;
  tokenTtl: number;
  tokenDesync: number;
  tokenBucket: number;
  epgUrl: string | undefined;
  expiredStreamUrl: string | undefined;
  /** The default origin's key (SECURETOKEN_KEY, or the one generated in the database); hashed here, never kept. */
  key: string | undefined;
  /** The secret bucket salts are keyed with (from the database): a new one signs other bytes. */
  bucketSecret: string;
}

/**
 * Bump when a change of Lineup itself renders other bytes for the same inputs, so that nodes
 * upgraded one by one never confirm each other's old bytes with a 304.
 */
const RENDERING = 1;

/**
 * The part of every playlist ETag that stands for the settings: the same in every process (every
 * worker, every node) configured alike, and another whenever a setting would change the bytes, so
 * that a refresh may land on any node and be answered 304, and a restart with other settings never
 * confirms old bytes. The key and the bucket secret go in only as hashes of their own.
 */
export function etagInstance(settings: PlaylistBytesSettings): string {
  const secretPart = (label: string, secret: string | undefined) =>
    secret === undefined ? 'none' : hash('sha256', `lineup etag ${label}\n${secret}`, 'base64url');
  const parts = [
    RENDERING,
    settings.originUrl,
    settings.publicUrl,
    settings.linkMode,
    settings.ipBinding,
    settings.tokenTtl,
    settings.tokenDesync,
    settings.tokenBucket,
    settings.epgUrl ?? '',
    settings.expiredStreamUrl ?? '',
    secretPart('key', settings.key),
    secretPart('bucket', settings.bucketSecret),
  ];
  return hash('sha1', parts.join('\n'), 'base64url');
}
