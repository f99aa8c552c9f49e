import { hash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ForbiddenError, UnknownKeyError } from '../errors.js';
import type { StreamFormat } from '../signing/origin.js';
import { hashPlaylistKey, isWellFormedKey } from '../subscribers/keys.js';
import type { SubscriberAccess } from '../subscribers/subscriber.js';
import { type Clock, fromSqlTime } from '../time.js';
import { BufferRecycler } from './buffer-recycler.js';
import { expiredPlaylist } from './expiry-placeholder.js';
import type { LineupCache } from './lineup-cache.js';
import { type Allocate, renderPlaylist, type Viewer } from './render.js';
import { ResponseCache } from './response-cache.js';
import { bucketSalt, bucketStart, type TokenBucketSettings } from './token-bucket.js';

export interface SubscriberSource {
  findAccess(keyHash: string): SubscriberAccess | undefined;
  isRetired(keyHash: string): boolean;
  findAccessByUsername(username: string): SubscriberAccess;
}

export interface PlaylistRequest {
  ip: string;
  format: StreamFormat;
}

/** A playlist ready to send: its validator at once, its bytes only when asked for (a 304 never renders). */
export interface ServedPlaylist {
  subscriberId: number;
  /** Strong ETag: a new one whenever the bytes can differ (database, subscriber, IP, format, bucket, salt). */
  etag: string;
  /** The M3U as UTF-8, in one buffer. */
  body(): Buffer;
  /** The same bytes gzipped; compressed once per ETag while the playlist stays cached. */
  gzipped(): Buffer;
  /**
   * Call once the response has been sent or abandoned, and never read the bytes again: a body
   * rendered for this response alone goes back to be overwritten by a later one.
   */
  release(): void;
}

/** A served playlist's bytes, kept by ETag for refreshes within a bucket. */
interface Rendered {
  body: Buffer;
  zipped?: Buffer;
  /** What the entry costs the cache. */
  bytes: number;
}

/**
 * About fifty 1,000-channel playlists, or ten of 5,000. It serves one app refreshing within a
 * bucket without If-None-Match; those refreshes come close together, and a fleet of boxes
 * refreshing at once are each another subscriber, which no cache helps. 32 MB here took peak RSS
 * over 200 MB in the memory bench (100k subscribers, 5,000 channels) and 16 MB keeps it near 190.
 */
const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

/** Enough output buffers for the responses of one burst to reuse (see BufferRecycler). */
const RECYCLED_BYTES = 8 * 1024 * 1024;

/** Tokens are hex and compress poorly; level 1 gets most of the gain on the static text for a fraction of the time. */
const GZIP_LEVEL = 1;

export const randomInstanceId = (): string => randomBytes(8).toString('hex');

/** One salt per response: the hash already differs per stream, and the RNG is the costly part. */
export const randomSalt = (): string => randomBytes(16).toString('hex');

export interface PlaylistOptions {
  /** EXPIRED_STREAM_URL: an expired subscriber gets one entry pointing here instead of a 403. */
  expiredStreamUrl?: string | undefined;
  salt?: () => string;
  /** TOKEN_BUCKET and the server secret its salts are keyed with; absent or 0 s: every response signed afresh. */
  tokenBucket?: TokenBucketSettings;
  /** Bytes of recently served playlists kept for refreshes within a bucket. */
  cacheBytes?: number;
  /** Part of every ETag (see `instance`); random when absent. */
  instanceId?: string;
}

export const REPLACED_KEY_MESSAGE = 'This playlist URL has been replaced. Ask your provider for the new one.';

/**
 * The subscriber behind a playlist key. @throws UnknownKeyError for a malformed or unknown key,
 * ForbiddenError for one that a rotation replaced: its holder was a subscriber, so the app says why,
 * and its retries are not guesses.
 */
export function subscriberForKey(subscribers: SubscriberSource, key: string): SubscriberAccess {
  if (!isWellFormedKey(key)) throw new UnknownKeyError();
  const keyHash = hashPlaylistKey(key);
  const subscriber = subscribers.findAccess(keyHash);
  if (subscriber) return subscriber;
  if (subscribers.isRetired(keyHash)) throw new ForbiddenError(REPLACED_KEY_MESSAGE);
  throw new UnknownKeyError();
}

/** Serves a playlist request, from key to M3U, for both HTTP and `lineup render`. */
export class PlaylistService {
  private readonly salt: () => string;
  private readonly recent: ResponseCache<Rendered>;
  private readonly recycler = new BufferRecycler(RECYCLED_BYTES);
  /**
   * Part of every ETag, so that a restart with other settings never answers 304 for old bytes.
   * Workers of one cluster share it, so that a refresh may land on any of them.
   */
  private readonly instance: string;

  constructor(
    private readonly lineup: LineupCache,
    private readonly subscribers: SubscriberSource,
    private readonly clock: Clock,
    private readonly options: PlaylistOptions = {},
  ) {
    this.salt = options.salt ?? randomSalt;
    this.recent = new ResponseCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
    this.instance = options.instanceId ?? randomInstanceId();
  }

  /**
   * @throws NotFoundError for an unknown key, ForbiddenError for a disabled or expired subscriber
   * (an expired one gets the EXPIRED_STREAM_URL placeholder instead, when that is set).
   */
  forKey(key: string, request: PlaylistRequest): ServedPlaylist {
    this.lineup.refresh();
    return this.forSubscriber(subscriberForKey(this.subscribers, key), request, key);
  }

  forUsername(username: string, request: PlaylistRequest): ServedPlaylist {
    this.lineup.refresh();
    return this.forSubscriber(this.subscribers.findAccessByUsername(username), request);
  }

  private forSubscriber(subscriber: SubscriberAccess, { ip, format }: PlaylistRequest, key?: string): ServedPlaylist {
    const now = this.clock();
    const { expiredStreamUrl } = this.options;
    // Disabled stays a 403: the operator switched the account off, and "expired" would mislead.
    if (expiredStreamUrl && subscriber.enabled && hasExpired(subscriber, now)) {
      const etag = this.etagOf(['expired', subscriber.id, subscriber.expiresAt]);
      return this.served(subscriber.id, etag, false, () =>
        Buffer.from(expiredPlaylist(subscriber.expiresAt, expiredStreamUrl), 'utf8'),
      );
    }
    assertActive(subscriber, now);
    const playlist = this.lineup.playlistFor(subscriber.packageIds, format);
    const bucket = this.bucketSeconds();
    const signedAt = bucketStart(now, bucket);
    // A bucket's salt follows from the subscriber, the address and the bucket, which the ETag
    // already holds, so it is worked out only when bytes are: a refresh answered 304 or from the
    // cache needs no HMAC.
    const freshSalt = bucket > 0 ? undefined : this.salt();
    const etag = this.etagOf([this.lineup.generation, subscriber.id, ip, format, signedAt, freshSalt ?? 'bucket', key === undefined ? '' : 'key']);
    return this.served(subscriber.id, etag, bucket > 0, (allocate) => {
      const salt = freshSalt ?? bucketSalt(this.options.tokenBucket!.secret, subscriber.id, ip, signedAt);
      const viewer: Viewer = { ip, now: signedAt, salt, ...(key === undefined ? {} : { key }) };
      return renderPlaylist(playlist, viewer, allocate);
    });
  }

  /**
   * TOKEN_BUCKET, unless some origin's tokens live (TTL − desync) no longer than a bucket: a token
   * signed at the bucket's start could then be dead before the bucket ends, so those sign afresh.
   */
  private bucketSeconds(): number {
    const seconds = this.options.tokenBucket?.seconds ?? 0;
    return seconds > 0 && seconds < this.lineup.shortestTokenLife ? seconds : 0;
  }

  private etagOf(parts: readonly (string | number)[]): string {
    return `"${hash('sha1', `${this.instance}\n${parts.join('\n')}`, 'base64url')}"`;
  }

  /**
   * Bytes on demand, shared through the cache by every response with the same ETag when
   * `cacheable`. Otherwise they are this response's alone, so their buffer is recycled on release.
   */
  private served(subscriberId: number, etag: string, cacheable: boolean, render: (allocate: Allocate) => Buffer): ServedPlaylist {
    let rendered = cacheable ? this.recent.get(etag) : undefined;
    let recyclable: Buffer | undefined;
    const bytes = (): Rendered => {
      if (!rendered) {
        const body = cacheable ? render(Buffer.allocUnsafe) : render((size) => (recyclable = this.recycler.take(size)));
        rendered = { body, bytes: body.length };
        if (cacheable) this.recent.set(etag, rendered);
      }
      return rendered;
    };
    return {
      subscriberId,
      etag,
      body: () => bytes().body,
      gzipped: () => {
        const entry = bytes();
        if (!entry.zipped) {
          entry.zipped = gzipSync(entry.body, { level: GZIP_LEVEL });
          if (cacheable) this.recent.grew(etag, entry.zipped.length);
        }
        return entry.zipped;
      },
      release: () => {
        if (recyclable) this.recycler.give(recyclable);
        recyclable = undefined;
      },
    };
  }
}

/** Disabled, or past `expires_at` (from that very second), means 403 with a reason a person can read. */
export function assertActive(subscriber: SubscriberAccess, now: number): void {
  if (!subscriber.enabled) throw new ForbiddenError('Subscription disabled. Contact your provider.');
  if (hasExpired(subscriber, now)) {
    throw new ForbiddenError(`Subscription expired on ${subscriber.expiresAt} UTC. Contact your provider to renew.`);
  }
}

/** From the very second of `expires_at`. */
export function hasExpired(subscriber: SubscriberAccess, now: number): boolean {
  return now >= fromSqlTime(subscriber.expiresAt);
}
