import { type Awaitable, andThen } from '../awaitable.js';
import { NotFoundError } from '../errors.js';
import type { StreamFormat } from '../signing/origin.js';
import { signStreamFileUrl, signStreamUrl } from '../signing/sign.js';
import { type AccessLookup, assertActive, subscriberForKey } from '../subscribers/access.js';
import type { SubscriberAccess } from '../subscribers/subscriber.js';
import type { Clock } from '../time.js';
import { isArchiveFile } from './catchup.js';
import { isVisible } from './lineup.js';
import type { LineupCache } from './lineup-cache.js';
import { randomSalt } from './token-bucket.js';

/** What a redirect-mode link asks for: the live stream in a format, or one archive file. */
export type PlayTarget = { live: StreamFormat } | { archiveFile: string };

export interface PlayRequest {
  key: string;
  channelId: number;
  target: PlayTarget;
  /** The address that made this request, already normalised: the token is bound to it. */
  ip: string;
}

export interface PlayLocation {
  url: string;
  subscriberId: number;
}

/** Unknown, disabled, outside the subscriber's packages: one answer, so no channel ids leak. */
export const UNKNOWN_CHANNEL_MESSAGE = 'No such channel';
/**
 * A channel the subscriber sees, asked for an archive it does not keep. Saying so leaks nothing
 * (the playlist already lists the channel, without catch-up attributes), and tells the operator
 * looking at a player's error that the channel's catchup_days is 0, not that the link is broken.
 */
const NO_CATCHUP_MESSAGE = 'This channel has no catch-up';

/**
 * Redirect mode: a playlist holds stable Lineup links, and each play request is checked against
 * the subscriber's state at that moment, then answered with a freshly signed origin URL.
 */
export class StreamRedirects {
  constructor(
    private readonly lineup: LineupCache,
    private readonly subscribers: AccessLookup,
    private readonly clock: Clock,
    private readonly salt: () => string = randomSalt,
  ) {}

  /**
   * @throws NotFoundError for an unknown key, channel or archive file, or an archive of a channel
   * without catch-up (saying so); ForbiddenError for a disabled or expired subscriber (never the
   * expiry placeholder: that is for playlists).
   */
  locate({ key, channelId, target, ip }: PlayRequest): Awaitable<PlayLocation> {
    // The lookup may wait (PostgreSQL); the lineup is refreshed after it, and used in one go.
    return andThen(subscriberForKey(this.subscribers, key), (subscriber) =>
      this.lineup.whenCurrent(() => this.locateFor(subscriber, { channelId, target, ip })),
    );
  }

  /**
   * The same, for a subscriber already found by other credentials (an Xtream Codes login), as of
   * the lineup's last refresh: one signing path for every kind of stable link.
   */
  locateFor(subscriber: SubscriberAccess, { channelId, target, ip }: Omit<PlayRequest, 'key'>): PlayLocation {
    const now = this.clock();
    assertActive(subscriber, now);
    const found = this.lineup.channelById(channelId);
    if (!found || !isVisible(found.channel, new Set(subscriber.packageIds))) {
      throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
    }
    const { channel, origin } = found;
    const salt = this.salt();
    const holder = { subscriberId: subscriber.id, keyHash: subscriber.keyHash };
    if ('live' in target) {
      // Field by field: a spread and one more field is copied by V8's runtime, microseconds a zap.
      const url = signStreamUrl(channel.stream, ip, now, { origin, salt, holder, format: target.live });
      return { url, subscriberId: subscriber.id };
    }
    if (channel.catchupDays === 0) throw new NotFoundError(NO_CATCHUP_MESSAGE);
    if (!isArchiveFile(target.archiveFile)) throw new NotFoundError(UNKNOWN_CHANNEL_MESSAGE);
    return { url: signStreamFileUrl(channel.stream, target.archiveFile, ip, now, { origin, salt, holder }), subscriberId: subscriber.id };
  }
}
