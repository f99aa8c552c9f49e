import { type Awaitable, andThen } from '../awaitable.js';
import { ForbiddenError, GoneError, UnknownKeyError } from '../errors.js';
import { fromSqlTime } from '../time.js';
import { hashPlaylistKey, isWellFormedKey } from './keys.js';
import type { RetiredReason, SubscriberAccess, SubscriberState } from './subscriber.js';

/**
 * Who may fetch what, decided in one place for the playlist, `/play` and the CLI alike. A
 * subscription lapses at the very second of `expires_at`; storage's SQL follows the same rule
 * (db/subscriber-rules.ts), and a test holds the two together.
 */

/**
 * Where the request path looks access up: a store whose lookups may be asynchronous (PostgreSQL, a
 * round trip), a synchronous one (SQLite: every AccessSource is one), or a memo of either.
 */
export interface AccessLookup {
  /** The subscriber behind a playlist key's hash, or undefined. */
  findAccess(keyHash: string): Awaitable<SubscriberAccess | undefined>;
  /** Why a key's hash no longer works, when it belonged to a subscriber; undefined for any other. */
  retiredReason(keyHash: string): Awaitable<RetiredReason | undefined>;
  /** @throws (or rejects with) NotFoundError for an unknown username. */
  findAccessByUsername(username: string): Awaitable<SubscriberAccess>;
}

/** Where access is looked up synchronously: the SQLite database, or a memo of it. */
export interface AccessSource extends AccessLookup {
  /** The subscriber behind a playlist key's hash, or undefined. */
  findAccess(keyHash: string): SubscriberAccess | undefined;
  /** Why a key's hash no longer works, when it belonged to a subscriber; undefined for any other. */
  retiredReason(keyHash: string): RetiredReason | undefined;
  /** @throws NotFoundError for an unknown username. */
  findAccessByUsername(username: string): SubscriberAccess;
}

const REPLACED_KEY_MESSAGE = 'This playlist URL has been replaced. Ask your provider for the new one.';
const REMOVED_KEY_MESSAGE = 'This playlist URL is no longer valid. Contact your provider.';

/**
 * The subscriber behind a playlist key. @throws UnknownKeyError for a malformed or unknown key;
 * ForbiddenError for one that a rotation replaced, GoneError for a deleted subscriber's: their
 * holder was a subscriber, so the app says why, and their retries are not guesses.
 */
export function subscriberForKey(source: AccessLookup, key: string): Awaitable<SubscriberAccess> {
  if (!isWellFormedKey(key)) throw new UnknownKeyError();
  const keyHash = hashPlaylistKey(key);
  return andThen(source.findAccess(keyHash), (subscriber) => subscriber ?? andThen(source.retiredReason(keyHash), refusalFor));
}

function refusalFor(reason: RetiredReason | undefined): never {
  switch (reason) {
    case 'rotated':
      throw new ForbiddenError(REPLACED_KEY_MESSAGE);
    case 'removed':
      throw new GoneError(REMOVED_KEY_MESSAGE);
    case undefined:
      throw new UnknownKeyError();
  }
}

/** From the very second of `expires_at`. */
export function hasLapsed(subscriber: Pick<SubscriberAccess, 'expiresAt'>, now: number): boolean {
  return now >= fromSqlTime(subscriber.expiresAt);
}

/** Disabled wins over expired: the operator switched the account off, and "expired" would mislead. */
export function stateOf(subscriber: Pick<SubscriberAccess, 'enabled' | 'expiresAt'>, now: number): SubscriberState {
  if (!subscriber.enabled) return 'disabled';
  return hasLapsed(subscriber, now) ? 'expired' : 'active';
}

/** Disabled, or lapsed, means 403 with a reason a person can read. */
export function assertActive(subscriber: SubscriberAccess, now: number): void {
  switch (stateOf(subscriber, now)) {
    case 'disabled':
      throw new ForbiddenError('Subscription disabled. Contact your provider.');
    case 'expired':
      throw new ForbiddenError(`Subscription expired on ${subscriber.expiresAt} UTC. Contact your provider to renew.`);
    case 'active':
  }
}
