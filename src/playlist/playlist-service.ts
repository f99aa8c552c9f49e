import { randomBytes } from 'node:crypto';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { StreamFormat } from '../signing/origin.js';
import { hashPlaylistKey, isWellFormedKey } from '../subscribers/keys.js';
import type { SubscriberAccess } from '../subscribers/subscriber.js';
import { type Clock, fromSqlTime } from '../time.js';
import { expiredPlaylist } from './expiry-placeholder.js';
import type { LineupCache } from './lineup-cache.js';
import { renderPlaylist } from './render.js';

export interface SubscriberSource {
  findAccess(keyHash: string): SubscriberAccess | undefined;
  findAccessByUsername(username: string): SubscriberAccess;
}

export interface PlaylistRequest {
  ip: string;
  format: StreamFormat;
}

export interface ServedPlaylist {
  body: string;
  subscriberId: number;
}

/** One salt per response: the hash already differs per stream, and the RNG is the costly part. */
export const randomSalt = (): string => randomBytes(16).toString('hex');

/** The same answer for a key that is malformed, unknown or rotated away: no oracle for guessers. */
export const UNKNOWN_KEY_MESSAGE = 'No such playlist';

export interface PlaylistOptions {
  /** EXPIRED_STREAM_URL: an expired subscriber gets one entry pointing here instead of a 403. */
  expiredStreamUrl?: string | undefined;
  salt?: () => string;
}

/** The subscriber behind a playlist key. @throws NotFoundError for a malformed, unknown or rotated key. */
export function subscriberForKey(subscribers: SubscriberSource, key: string): SubscriberAccess {
  const subscriber = isWellFormedKey(key) ? subscribers.findAccess(hashPlaylistKey(key)) : undefined;
  if (!subscriber) throw new NotFoundError(UNKNOWN_KEY_MESSAGE);
  return subscriber;
}

/** Serves a playlist request, from key to M3U, for both HTTP and `lineup render`. */
export class PlaylistService {
  private readonly salt: () => string;

  constructor(
    private readonly lineup: LineupCache,
    private readonly subscribers: SubscriberSource,
    private readonly clock: Clock,
    private readonly options: PlaylistOptions = {},
  ) {
    this.salt = options.salt ?? randomSalt;
  }

  /**
   * @throws NotFoundError for an unknown key, ForbiddenError for a disabled or expired subscriber
   * (an expired one gets the EXPIRED_STREAM_URL placeholder instead, when that is set).
   */
  forKey(key: string, request: PlaylistRequest): ServedPlaylist {
    return this.forSubscriber(subscriberForKey(this.subscribers, key), request, key);
  }

  forUsername(username: string, request: PlaylistRequest): ServedPlaylist {
    return this.forSubscriber(this.subscribers.findAccessByUsername(username), request);
  }

  private forSubscriber(subscriber: SubscriberAccess, { ip, format }: PlaylistRequest, key?: string): ServedPlaylist {
    const now = this.clock();
    const { expiredStreamUrl } = this.options;
    // Disabled stays a 403: the operator switched the account off, and "expired" would mislead.
    if (expiredStreamUrl && subscriber.enabled && hasExpired(subscriber, now)) {
      return { body: expiredPlaylist(subscriber.expiresAt, expiredStreamUrl), subscriberId: subscriber.id };
    }
    assertActive(subscriber, now);
    const playlist = this.lineup.playlistFor(subscriber.packageIds, format);
    return { body: renderPlaylist(playlist, { ip, now, salt: this.salt(), ...(key === undefined ? {} : { key }) }), subscriberId: subscriber.id };
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
