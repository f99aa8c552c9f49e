import type { SqlTime } from '../time.js';
import type { AccessSource } from './access.js';
import type {
  NewSubscriber,
  SealedCredentials,
  StoredCredential,
  Subscriber,
  SubscriberChange,
  SubscriberFilter,
  XcLogin,
} from './subscriber.js';

export interface RestoredSubscriber {
  subscriber: Subscriber;
  /** Packages it had that no longer exist, so were not linked again. */
  missingPackages: string[];
}

/**
 * What the subscriber rules need from storage; db/subscriber-store.ts implements it. Each method is
 * one statement or one transaction. "Lapsed by T" means `expires_at` is at or before T, the rule of
 * subscribers/access.ts. A retired key (rotated away, or its subscriber deleted) is remembered for
 * the retention the store was opened with (RETIRED_KEY_DAYS), and forgotten after it: lookups
 * ignore it at once, and the prune job deletes its row.
 */
export interface SubscriberStorage extends AccessSource {
  find(username: string): Subscriber | undefined;
  /** @throws NotFoundError naming the username. */
  get(username: string): Subscriber;
  list(): Subscriber[];
  /**
   * Up to `limit` subscribers matching `filter`, by username, after the username `after`; states
   * are as of `now`.
   */
  page(filter: SubscriberFilter, now: SqlTime, after: string | undefined, limit: number): Subscriber[];
  /**
   * Runs `work` in one write transaction (BEGIN IMMEDIATE, or a savepoint within one), so that a
   * read and the write that depends on it see no other writer in between.
   */
  transaction<T>(work: () => T): T;
  listLapsedBy(time: SqlTime): Subscriber[];
  /** How many subscribers there are. */
  countAll(): number;
  /** How many subscribers have lapsed by `time`. */
  countLapsedBy(time: SqlTime): number;
  /**
   * Moves at most `limit` of the subscribers lapsed by `time` to the recycle table (stamped
   * `prunedAt`) and deletes them, package links included, in one transaction; returns their
   * usernames, sorted. Each subscriber goes whole or not at all.
   */
  recycleLapsedBy(time: SqlTime, prunedAt: SqlTime, limit: number): string[];
  /**
   * Ends a bulk write (a prune's chunks): copies the write-ahead log into the database and gives
   * its disk space back; false when a reader kept it for now.
   */
  truncateWriteAheadLog(): boolean;
  /** Recycled subscribers pruned at or before `time`: how many there are. */
  countPurgeableBy(time: SqlTime): number;
  /** Deletes the recycled subscribers pruned at or before `time`, for good; returns how many. */
  purgePrunedBy(time: SqlTime): number;
  /**
   * Puts a recycled subscriber back, with its old key (so its old URL works again), in one transaction.
   * @throws NotFoundError when none of that name is recycled; BadInputError when the name is taken again.
   */
  restore(username: string): RestoredSubscriber;
  /** @throws BadInputError for a taken username or an unknown package. */
  add(subscriber: NewSubscriber): Subscriber;
  /** Adds and removes packages in one transaction; an unknown package name changes nothing. */
  changePackages(username: string, add: readonly string[], remove: readonly string[]): Subscriber;
  setExpiry(username: string, expiresAt: SqlTime): void;
  setEnabled(username: string, enabled: boolean): void;
  /** Changes the given fields in one transaction. @throws NotFoundError; BadInputError for an unknown package. */
  change(username: string, change: SubscriberChange): void;
  /** A new playlist key: its hash and sealed text. */
  setKey(username: string, key: StoredCredential): void;
  setXcPassword(username: string, password: StoredCredential): void;
  /** @throws NotFoundError naming the username. */
  sealedCredentials(username: string): SealedCredentials;
  /** The subscriber an XC app names, or undefined. */
  findXcLogin(username: string): XcLogin | undefined;
  remove(username: string): void;
  /** Retired keys past their retention at `now` (Unix seconds): how many there are. */
  countForgottenRetiredKeys(now: number): number;
  /** Deletes the retired keys past their retention at `now`, in one statement; returns how many. */
  forgetRetiredKeys(now: number): number;
  /** Deletes all but the last `keep` rows of the subscriber change log, the oldest first and at most `limit`; returns how many. */
  trimChangeLog(keep: number, limit?: number): number;
}
