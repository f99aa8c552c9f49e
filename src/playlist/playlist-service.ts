import { hash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type Awaitable, andThen } from '../awaitable.js';
import type { StreamFormat } from '../signing/origin.js';
import { type AccessLookup, assertActive, hasLapsed, subscriberForKey } from '../subscribers/access.js';
import type { PlaylistIps } from '../subscribers/playlist-ips.js';
import type { SubscriberAccess } from '../subscribers/subscriber.js';
import type { Clock } from '../time.js';
import { BufferRecycler } from './buffer-recycler.js';
import { expiredPlaylist } from './expiry-placeholder.js';
import type { LineupCache } from './lineup-cache.js';
import { type Output, renderPlaylist, type Viewer } from './render.js';
import { ResponseCache } from './response-cache.js';
import { bucketSalt, bucketStart, randomSalt, type TokenBucketSettings } from './token-bucket.js';

export interface PlaylistRequest {
  ip: string;
  format: StreamFormat;
}

export interface PlaylistHttpRequest extends PlaylistRequest {
  /** Whether the client takes a gzipped body. */
  gzip: boolean;
  /** Whether a conditional request already holds the bytes of this ETag: answered 304, nothing rendered. */
  holds(etag: string): boolean;
  /**
   * Calls `done` once the response has been sent or abandoned, when nothing reads its body again.
   * The service decides what that frees: a body rendered for one response goes back for reuse.
   */
  afterResponse(done: () => void): void;
}

/** Everything an HTTP answer to a playlist request needs, decided before any of it is sent. */
export interface PlaylistResponse {
  status: 200 | 304;
  subscriberId: number;
  headers: Record<string, string>;
  /** 200 only. */
  body?: Buffer;
}

/** A served playlist's bytes, kept by ETag for refreshes within a bucket. */
interface Rendered {
  /** A pooled buffer: it goes back to the pool once out of the cache and no response sends it. */
  body: Buffer;
  zipped?: Buffer;
  /** What the entry costs the cache. */
  bytes: number;
  /** Responses still sending `body`. */
  sending: number;
  /** Out of the cache: nothing will hand `body` to another response. */
  evicted: boolean;
}

/** What is known about a response before its bytes: enough for a 304. */
interface Prepared {
  subscriberId: number;
  /**
   * Strong ETag of the identity bytes: a new one whenever they can differ (database, subscriber,
   * IP, format, bucket, salt). The cache's key; the gzip bytes answer with `gzipEtag` of it.
   */
  etag: string;
  /** Whether responses with this ETag share one rendering through the cache (a bucketed one). */
  cacheable: boolean;
  /** Into `output`, or fresh memory without one (`lineup render`). */
  render(output?: Output): Buffer;
}

/**
 * About fifty 1,000-channel playlists, or ten of 5,000: one app refreshing within a bucket without
 * If-None-Match. A fleet of boxes refreshing at once are each another subscriber, which no cache
 * helps, so more would cost memory for nothing.
 */
const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Output buffers kept for reuse, at the least (see BufferRecycler); more when the largest body
 * times the most responses seen in flight at once needs more, so that a burst of big lineups
 * reuses its buffers too instead of allocating each one afresh.
 */
const RECYCLED_BYTES = 8 * 1024 * 1024;
/** …but never more than this, so that one burst of slow clients does not hold its memory for good. */
const MOST_RECYCLED_BYTES = 64 * 1024 * 1024;

/** Tokens are hex and compress poorly; level 1 gets most of the gain on the static text for a fraction of the time. */
const GZIP_LEVEL = 1;

/**
 * `private`: shared caches never store a list of one viewer's tokens. `no-cache`, not `no-store`:
 * a compliant app keeps the bytes and revalidates with If-None-Match, so that a refresh within the
 * token bucket is a 304 instead of the whole list again.
 */
const CACHE_CONTROL = 'private, no-cache';
/** Never application/vnd.apple.mpegurl: VLC then takes the list for one HLS stream. */
const CONTENT_TYPE = 'audio/x-mpegurl; charset=utf-8';

/**
 * The gzip representation's ETag: the identity one with a suffix inside the quotes, so that it
 * costs no second hash. The suffix cannot occur in an identity ETag, whose hash is base64url.
 */
const gzipEtag = (etag: string): string => `${etag.slice(0, -1)}.gz"`;

export interface PlaylistOptions {
  /** EXPIRED_STREAM_URL: an expired subscriber gets one entry pointing here instead of a 403. */
  expiredStreamUrl?: string | undefined;
  salt?: () => string;
  /** TOKEN_BUCKET and the server secret its salts are keyed with; absent or 0 s: every response signed afresh. */
  tokenBucket?: TokenBucketSettings;
  /** Bytes of recently served playlists kept for refreshes within a bucket. */
  cacheBytes?: number;
  /**
   * Part of every ETag: what the bytes depend on besides the database and the request (settings,
   * see etagInstance). The same in every process configured alike, so that a refresh may land on
   * any worker of any node and still be answered 304.
   */
  instance?: string;
  /** Where each fetch over HTTP is noted, and PLAYLIST_IP_LIMIT applied. */
  playlistIps?: Pick<PlaylistIps, 'note'>;
}

/** Serves a playlist request, from key to M3U, for both HTTP and `lineup render`. */
export class PlaylistService {
  private readonly salt: () => string;
  private readonly recent: ResponseCache<Rendered>;
  private readonly recycler = new BufferRecycler(RECYCLED_BYTES);
  /** Responses whose body is still being sent, and the most there have been at once. */
  private inFlight = 0;
  private mostInFlight = 0;
  private largestBody = 0;
  /** See PlaylistOptions.instance. */
  private readonly instance: string;

  constructor(
    private readonly lineup: LineupCache,
    private readonly subscribers: AccessLookup,
    private readonly clock: Clock,
    private readonly options: PlaylistOptions = {},
  ) {
    this.salt = options.salt ?? randomSalt;
    this.recent = new ResponseCache<Rendered>(options.cacheBytes ?? DEFAULT_CACHE_BYTES, (rendered) => {
      rendered.evicted = true;
      if (rendered.sending === 0) this.recycler.give(rendered.body);
    });
    this.instance = options.instance ?? '';
  }

  /**
   * The whole answer to `/playlist/KEY.m3u`: rendered, or found in the cache, before a header is set.
   * @throws UnknownKeyError for an unknown key, ForbiddenError for a disabled or expired subscriber
   * (an expired one gets the EXPIRED_STREAM_URL placeholder instead, when that is set).
   */
  respond(key: string, request: PlaylistHttpRequest): Awaitable<PlaylistResponse> {
    // The lookup may wait (PostgreSQL); what follows it sees one lineup, refreshed after it.
    return andThen(subscriberForKey(this.subscribers, key), (subscriber) =>
      this.lineup.whenCurrent(() => {
        const prepared = this.prepare(subscriber, request, key);
        // A promise only for an address PLAYLIST_IP_LIMIT must ask the database about (PostgreSQL).
        return prepared instanceof Promise ? prepared.then((ready) => this.answer(ready, request)) : this.answer(prepared, request);
      }),
    );
  }

  private answer(prepared: Prepared, request: PlaylistHttpRequest): PlaylistResponse {
    // The gzip bytes are another representation, so they get their own strong ETag (RFC 9110):
    // a cache holding one coding must never have it confirmed by the other's tag.
    const etag = request.gzip ? gzipEtag(prepared.etag) : prepared.etag;
    const headers: Record<string, string> = { 'Cache-Control': CACHE_CONTROL, ETag: etag, Vary: 'Accept-Encoding' };
    // A refresh that sends back the ETag costs a lookup and a hash of a few fields: nothing is signed.
    if (request.holds(etag)) return { status: 304, subscriberId: prepared.subscriberId, headers };
    headers['Content-Type'] = CONTENT_TYPE;
    if (request.gzip) headers['Content-Encoding'] = 'gzip';
    const body = prepared.cacheable ? this.cachedBody(prepared, request) : this.ownBody(prepared, request);
    return { status: 200, subscriberId: prepared.subscriberId, headers, body };
  }

  /** USER's playlist as `respond` would render it for `request`, for `lineup render`. */
  textFor(username: string, request: PlaylistRequest): Awaitable<string> {
    return andThen(this.subscribers.findAccessByUsername(username), (subscriber) =>
      this.lineup.whenCurrent(() => andThen(this.prepare(subscriber, request), (prepared) => prepared.render().toString('utf8'))),
    );
  }

  private prepare(subscriber: SubscriberAccess, request: PlaylistRequest, key?: string): Prepared | Promise<Prepared> {
    const now = this.clock();
    const { expiredStreamUrl } = this.options;
    if (expiredStreamUrl && subscriber.enabled && hasLapsed(subscriber, now)) {
      return {
        subscriberId: subscriber.id,
        etag: this.etagOf(`expired\n${subscriber.id}\n${subscriber.expiresAt}`),
        cacheable: false,
        render: () => Buffer.from(expiredPlaylist(subscriber.expiresAt, expiredStreamUrl), 'utf8'),
      };
    }
    assertActive(subscriber, now);
    // A fetch (`lineup render` passes no key): before anything is rendered, so that a refusal costs nothing.
    if (key !== undefined) {
      const noted = this.options.playlistIps?.note(subscriber, request.ip, now);
      // The lineup read after the wait is the one refreshed before it, or a later one: its version and playlists agree.
      if (noted instanceof Promise) return noted.then(() => this.signed(subscriber, request, key, now));
    }
    return this.signed(subscriber, request, key, now);
  }

  /** The ETag and the rendering of an active subscriber's playlist, the fetch noted. */
  private signed(subscriber: SubscriberAccess, { ip, format }: PlaylistRequest, key: string | undefined, now: number): Prepared {
    const bucket = this.bucketSeconds();
    const signedAt = bucketStart(now, bucket);
    // A bucket's salt follows from the subscriber, the address and the bucket, which the ETag
    // already holds, so it is worked out only when bytes are: a refresh answered 304 or from the
    // cache needs no HMAC.
    const freshSalt = bucket > 0 ? undefined : this.salt();
    // Nothing of this process: the database's lineup version, the subscriber's packages and key
    // (redirect-mode links carry it), so that every node serving the same bytes gives the same tag.
    const packages = subscriber.packageIds.length < 2 ? subscriber.packageIds : [...subscriber.packageIds].sort((a, b) => a - b);
    const etag = this.etagOf(
      `${this.lineup.version}\n${subscriber.id}\n${packages.join(',')}\n${subscriber.keyHash}\n${ip}\n${format}\n${signedAt}\n${freshSalt ?? 'bucket'}\n${key === undefined ? '' : 'key'}`,
    );
    return {
      subscriberId: subscriber.id,
      etag,
      cacheable: bucket > 0,
      render: (output) => {
        const salt = freshSalt ?? bucketSalt(this.options.tokenBucket!.secret, subscriber.id, ip, signedAt);
        const holder = { subscriberId: subscriber.id, keyHash: subscriber.keyHash };
        const viewer: Viewer = { ip, now: signedAt, salt, holder, ...(key === undefined ? {} : { key }) };
        // Compiled (or found compiled) only when bytes are asked for: a 304 needs none. Rendering
        // comes in the same synchronous call as the refresh, so it is the same lineup.
        return renderPlaylist(this.lineup.playlistFor(subscriber.packageIds, format), viewer, output);
      },
    };
  }

  /**
   * Shared by every response with the same ETag from its second request on; gzipped once per ETag
   * while it stays cached. The identity bytes are rendered into a pooled buffer, which goes back to
   * the pool once the cache lets go of it and the last response sending it is over.
   */
  private cachedBody(prepared: Prepared, request: PlaylistHttpRequest): Buffer {
    let rendered = this.recent.get(prepared.etag);
    if (!rendered) {
      // A first request (a fleet's every one) is served as a cold one is, from a recycled buffer
      // still in the CPU's caches; only an ETag asked for again is worth a place in the cache.
      if (!this.recent.admits(prepared.etag)) {
        const body = this.ownBody(prepared, request);
        this.recent.notKept(prepared.etag, body.length);
        return body;
      }
      // Into a buffer, not a kernel instance: the cache may hold it for a whole bucket, and an
      // instance held that long is one fewer for the misses (at most 32 are lent).
      const body = prepared.render(this.buffersOnly);
      // Held for this response before the cache sees it: the cache may let go of it at once.
      rendered = { body, bytes: body.length, sending: 1, evicted: false };
      this.recent.set(prepared.etag, rendered);
    } else {
      rendered.sending++;
    }
    if (request.gzip) {
      if (!rendered.zipped) {
        rendered.zipped = gzipSync(rendered.body, { level: GZIP_LEVEL });
        this.recent.grew(prepared.etag, rendered.zipped.length);
      }
      const { zipped } = rendered;
      this.release(rendered);
      return zipped;
    }
    this.sending();
    const held = rendered;
    request.afterResponse(() => {
      this.sent();
      this.release(held);
    });
    return held.body;
  }

  private release(rendered: Rendered): void {
    rendered.sending--;
    if (rendered.sending === 0 && rendered.evicted) this.recycler.give(rendered.body);
  }

  /** Pooled memory for a body that goes back once sent: a kernel instance's, or a buffer. */
  private readonly pooled: Output = {
    allocate: (size) => {
      this.noteBody(size);
      return this.recycler.take(size);
    },
    lanes: (template) => {
      this.noteBody(template.length);
      return this.recycler.takeLanes(template);
    },
  };

  private readonly buffersOnly: Output = { allocate: this.pooled.allocate };

  private noteBody(size: number): void {
    if (size > this.largestBody) {
      this.largestBody = size;
      this.recycler.reserve(Math.min(MOST_RECYCLED_BYTES, size * this.mostInFlight));
    }
  }

  private sending(): void {
    this.inFlight++;
    if (this.inFlight > this.mostInFlight) {
      this.mostInFlight = this.inFlight;
      this.recycler.reserve(Math.min(MOST_RECYCLED_BYTES, this.largestBody * this.mostInFlight));
    }
  }

  private sent(): void {
    this.inFlight--;
  }

  /**
   * This response's alone: rendered into a recycled buffer, which goes back once zipped, or once
   * the response is over (the socket may hold it until then). A stream body would tell the end by
   * itself, but costs more per response than the recycling saves.
   */
  private ownBody(prepared: Prepared, { gzip, afterResponse }: PlaylistHttpRequest): Buffer {
    const body = prepared.render(this.pooled);
    if (gzip) {
      const zipped = gzipSync(body, { level: GZIP_LEVEL });
      this.recycler.give(body);
      return zipped;
    }
    this.sending();
    afterResponse(() => {
      this.sent();
      this.recycler.give(body);
    });
    return body;
  }

  /**
   * TOKEN_BUCKET, unless some origin's tokens live (TTL − desync) no longer than a bucket: a token
   * signed at the bucket's start could then be dead before the bucket ends, so those sign afresh.
   */
  private bucketSeconds(): number {
    const seconds = this.options.tokenBucket?.seconds ?? 0;
    return seconds > 0 && seconds < this.lineup.shortestTokenLife ? seconds : 0;
  }

  /** `fields`: what the answer is made of, one per line. */
  private etagOf(fields: string): string {
    return `"${hash('sha1', `${this.instance}\n${fields}`, 'base64url')}"`;
  }
}
