import type { Awaitable } from '../awaitable.js';
import { ConfigError, ForbiddenError } from '../errors.js';
import { type Clock, fromSqlTime, type SqlTime, toSqlTime } from '../time.js';
import type { SubscriberAccess } from './subscriber.js';

/** One subscriber's playlist fetched from one address, in the bucket starting at `at`. */
export interface PlaylistFetch {
  subscriberId: number;
  ip: string;
  at: SqlTime;
}

/** An address a subscriber's playlist was fetched from. */
export interface PlaylistAddress {
  ip: string;
  firstSeen: SqlTime;
  lastSeen: SqlTime;
  /** TOKEN_BUCKETs it fetched in: a rough count of its fetches. */
  buckets: number;
}

/** A subscription fetched from more addresses than its max_connections. */
export interface SharingSuspect {
  username: string;
  maxConnections: number;
  addresses: PlaylistAddress[];
}

/**
 * What the playlist addresses need from storage; db/playlist-ip-store.ts implements it, and
 * db/pg/playlist-ip-store.ts asynchronously.
 */
export interface PlaylistIpStorage {
  /** Records each fetch (first sighting, or one more bucket) in one transaction; a deleted subscriber's are skipped. */
  record(fetches: readonly PlaylistFetch[]): void | Promise<void>;
  /**
   * In one write transaction, so that every process counts the same rows: records `fetch` when its
   * address fetched since `since`, or when fewer than `limit` addresses did; else records nothing.
   * Synchronous on SQLite (the playlist is answered or refused in the request's own turn); on
   * PostgreSQL a round trip, which PlaylistIps asks only for an address new to this process.
   * @returns whether the fetch was recorded
   */
  admit?(fetch: PlaylistFetch, since: SqlTime, limit: number): Awaitable<boolean>;
  /** Forgets addresses last seen before `before`; returns how many. */
  forgetBefore(before: SqlTime): number | Promise<number>;
}

export interface PlaylistIpSettings {
  /** The bucket within which a subscriber at one address is recorded once: TOKEN_BUCKET, or a default without it. */
  bucketSeconds: number;
  /** PLAYLIST_IP_LIMIT: addresses allowed per connection within `windowSeconds`; undefined: no limit. */
  perConnection: number | undefined;
  /** TOKEN_TTL: an address that fetched within it may still hold live tokens. */
  windowSeconds: number;
  /** How long addresses are kept, for `lineup report sharing` and `subscriber show`. */
  keepSeconds: number;
  /** How long fetches wait in memory to be written together. */
  flushMs: number;
  /** A write that failed; the fetches stay queued for the next one. */
  onWriteError(error: unknown): void;
}

/** Fetches queued at most while the database refuses writes; beyond, the oldest are dropped. */
const MAX_QUEUED = 100_000;
/** Pairs an asynchronous admit let in, remembered at most; past it the earliest let in is asked about again. */
const MAX_ADMITTED = 200_000;
/** How often old addresses are forgotten, in seconds. */
const FORGET_EVERY = 3600;

const PLAYLIST_IP_LIMIT_MESSAGE =
  'This playlist has been fetched from more places than your subscription allows. Use it on your own devices only, or contact your provider.';

/**
 * The addresses each subscriber's playlist is fetched from. A fetch costs one lookup in a set of
 * the current bucket's (subscriber, address) pairs; only the first of a pair in a bucket reaches the
 * database, queued and written with the others of the next `flushMs` in one transaction. With
 * PLAYLIST_IP_LIMIT, that first fetch is decided and written at once, in a transaction of its own,
 * so that every process (WORKERS) counts the same rows; refusals are remembered for the bucket.
 * Where that decision is a round trip (PostgreSQL, the nodes' shared table), it is asked only for
 * an address this process has not let in within the window: a later bucket of an address it let
 * in is queued as without the limit, and the request waits only for a new address.
 */
export class PlaylistIps {
  /** This bucket's pairs: true admitted, false refused. */
  private seen = new Map<string, boolean>();
  private bucketEnd = Number.NEGATIVE_INFINITY;
  /** The bucket's start as SQL time, formatted once per bucket rather than once per new pair. */
  private bucketAt: SqlTime = '';
  private queued: PlaylistFetch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nextForget = Number.NEGATIVE_INFINITY;
  /** An asynchronous storage's write in flight: the next waits for it, so that one pair's buckets are written in order. */
  private writing: Promise<void> | undefined;
  private bucketStart = Number.NEGATIVE_INFINITY;
  /** Pairs an asynchronous `admit` let in, by the start of the last bucket they fetched in. */
  private admittedAt = new Map<string, number>();
  /** Asynchronous `admit`s in flight, by pair: the pair's other requests meanwhile wait for the same answer. */
  private readonly admitting = new Map<string, Promise<void>>();

  constructor(
    private readonly storage: PlaylistIpStorage,
    private readonly clock: Clock,
    private readonly settings: PlaylistIpSettings,
  ) {
    if (settings.perConnection !== undefined && !storage.admit)
      throw new ConfigError('PLAYLIST_IP_LIMIT is not supported on this database');
  }

  /**
   * Notes a playlist fetch by an active subscriber from `ip` at `now` (Unix seconds). At once,
   * but for an address new to this process with PLAYLIST_IP_LIMIT on an asynchronous storage:
   * then a promise of the decision.
   * @throws ForbiddenError (or rejects with it) when PLAYLIST_IP_LIMIT refuses a further address
   */
  note(subscriber: Pick<SubscriberAccess, 'id' | 'maxConnections'>, ip: string, now: number): void | Promise<void> {
    if (now >= this.bucketEnd) this.startBucket(now);
    const pair = `${subscriber.id} ${ip}`;
    const admitted = this.seen.get(pair);
    if (admitted === true) return;
    if (admitted === false) throw new ForbiddenError(PLAYLIST_IP_LIMIT_MESSAGE);
    const fetch = { subscriberId: subscriber.id, ip, at: this.bucketAt };
    const { perConnection } = this.settings;
    if (perConnection === undefined) {
      this.seen.set(pair, true);
      this.enqueue(fetch);
      return;
    }
    const windowStart = now - this.settings.windowSeconds;
    const letIn = this.admittedAt.get(pair);
    if (letIn !== undefined && letIn >= windowStart) {
      // Its row fetched within the window (or is about to say so): known, whatever the count.
      this.seen.set(pair, true);
      this.admittedAt.set(pair, this.bucketStart);
      this.enqueue(fetch);
      return undefined;
    }
    const waiting = this.admitting.get(pair);
    if (waiting) return waiting;
    const allowed = this.storage.admit!(fetch, toSqlTime(windowStart), perConnection * subscriber.maxConnections);
    if (allowed instanceof Promise) return this.decideLater(pair, fetch, allowed);
    this.seen.set(pair, allowed);
    if (!allowed) throw new ForbiddenError(PLAYLIST_IP_LIMIT_MESSAGE);
    return undefined;
  }

  /**
   * An asynchronous admit's answer, remembered as a synchronous one's is. A storage that cannot
   * answer lets the address in, queued to be written with the next batch: a playlist is not
   * refused because the database is unreachable, as a known subscriber's is served from memory.
   */
  private decideLater(pair: string, fetch: PlaylistFetch, decision: Promise<boolean>): Promise<void> {
    const decided = decision
      .catch((error: unknown) => {
        this.settings.onWriteError(error);
        this.enqueue(fetch);
        return true;
      })
      .then((allowed) => {
        this.admitting.delete(pair);
        // A bucket that ended meanwhile has forgotten its pairs: the answer is for the next fetch to ask again.
        if (fetch.at === this.bucketAt) this.seen.set(pair, allowed);
        if (!allowed) throw new ForbiddenError(PLAYLIST_IP_LIMIT_MESSAGE);
        if (this.admittedAt.size >= MAX_ADMITTED) this.admittedAt.delete(this.admittedAt.keys().next().value!);
        this.admittedAt.set(pair, fromSqlTime(fetch.at));
      });
    this.admitting.set(pair, decided);
    return decided;
  }

  /**
   * Writes what is queued now; a failure keeps it queued. With an asynchronous storage, returns
   * the write's promise (which never rejects); while one is in flight, the queue waits for the next turn.
   */
  flush(): Promise<void> | undefined {
    const now = this.clock();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing) {
      if (this.queued.length > 0) this.schedule();
      return this.writing;
    }
    const fetches = this.queued;
    this.queued = [];
    const failed = (error: unknown) => {
      this.queued = [...fetches, ...this.queued].slice(-MAX_QUEUED);
      this.settings.onWriteError(error);
      if (this.queued.length > 0) this.schedule();
    };
    try {
      if (fetches.length === 0) return undefined;
      const recorded = this.storage.record(fetches);
      if (recorded instanceof Promise) {
        const writing = recorded
          .then(() => this.forgetOld(now))
          .catch(failed)
          .finally(() => {
            this.writing = undefined;
          });
        this.writing = writing;
        return writing;
      }
      this.forgetOld(now);
    } catch (error) {
      failed(error);
    }
    return undefined;
  }

  /**
   * Writes what is queued and stops the timer: before the database closes. With an asynchronous
   * storage, the promise resolves once what was queued is written, after the write in flight if
   * there was one (or has failed once more, and is dropped with the process).
   */
  stop(): Promise<void> | undefined {
    const settle = () => {
      clearTimeout(this.timer);
      this.timer = undefined;
    };
    const inFlight = this.writing !== undefined;
    const pending = this.flush();
    settle();
    return pending?.then(() => (inFlight ? this.flush() : undefined)).then(settle);
  }

  /** Only along with a write: closing an admin command's context, with nothing queued, writes nothing. */
  private forgetOld(now: number): void | Promise<void> {
    if (now < this.nextForget) return undefined;
    const forgotten = this.storage.forgetBefore(toSqlTime(now - this.settings.keepSeconds));
    const done = () => {
      this.nextForget = now + FORGET_EVERY;
    };
    if (forgotten instanceof Promise) return forgotten.then(done);
    done();
    return undefined;
  }

  private startBucket(now: number): void {
    const { bucketSeconds } = this.settings;
    this.bucketEnd = now - (now % bucketSeconds) + bucketSeconds;
    this.bucketStart = this.bucketEnd - bucketSeconds;
    this.bucketAt = toSqlTime(this.bucketStart);
    this.seen = new Map();
    if (this.admittedAt.size > 0) {
      const windowStart = now - this.settings.windowSeconds;
      for (const [pair, at] of this.admittedAt) if (at < windowStart) this.admittedAt.delete(pair);
    }
  }

  private enqueue(fetch: PlaylistFetch): void {
    this.queued.push(fetch);
    if (this.queued.length > MAX_QUEUED) this.queued.shift();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.settings.flushMs);
    this.timer.unref();
  }
}
