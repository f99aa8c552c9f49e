import { randomBytes } from 'node:crypto';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { StreamFormat } from '../signing/origin.js';
import { hashPlaylistKey, isWellFormedKey } from '../subscribers/keys.js';
import type { SubscriberAccess } from '../subscribers/subscriber.js';
import { type Clock, fromSqlTime } from '../time.js';
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
const randomSalt = (): string => randomBytes(16).toString('hex');

/** The same answer for a key that is malformed, unknown or rotated away: no oracle for guessers. */
export const UNKNOWN_KEY_MESSAGE = 'No such playlist';

/** Serves a playlist request, from key to M3U, for both HTTP and `lineup render`. */
export class PlaylistService {
  constructor(
    private readonly lineup: LineupCache,
    private readonly subscribers: SubscriberSource,
    private readonly clock: Clock,
    private readonly salt: () => string = randomSalt,
  ) {}

  /** @throws NotFoundError for an unknown key, ForbiddenError for a disabled or expired subscriber. */
  forKey(key: string, request: PlaylistRequest): ServedPlaylist {
    const subscriber = isWellFormedKey(key) ? this.subscribers.findAccess(hashPlaylistKey(key)) : undefined;
    if (!subscriber) throw new NotFoundError(UNKNOWN_KEY_MESSAGE);
    return this.forSubscriber(subscriber, request);
  }

  forUsername(username: string, request: PlaylistRequest): ServedPlaylist {
    return this.forSubscriber(this.subscribers.findAccessByUsername(username), request);
  }

  private forSubscriber(subscriber: SubscriberAccess, { ip, format }: PlaylistRequest): ServedPlaylist {
    const now = this.clock();
    assertActive(subscriber, now);
    const playlist = this.lineup.playlistFor(subscriber.packageIds, format);
    return { body: renderPlaylist(playlist, { ip, now, salt: this.salt() }), subscriberId: subscriber.id };
  }
}

/** Disabled, or past `expires_at` (from that very second), means 403 with a reason a person can read. */
export function assertActive(subscriber: SubscriberAccess, now: number): void {
  if (!subscriber.enabled) throw new ForbiddenError('Subscription disabled. Contact your provider.');
  if (now >= fromSqlTime(subscriber.expiresAt)) {
    throw new ForbiddenError(`Subscription expired on ${subscriber.expiresAt} UTC. Contact your provider to renew.`);
  }
}
