import type { Awaitable } from '../awaitable.js';
import type { AccessLookup } from './access.js';
import { RememberedBySubscriber } from './remembered-by-subscriber.js';
import type { RetiredReason, SubscriberAccess } from './subscriber.js';

/** How far a reader has read the log of subscriber changes; only the log that gave it reads it. */
export interface ChangeCursor {
  readonly seq: number;
  readonly schemaVersion: number;
}

/** The subscribers changed since a cursor: undefined when the log cannot tell (then every one may have). */
export interface SubscriberChangesSince {
  cursor: ChangeCursor;
  changed: readonly number[] | undefined;
}

/** The log of which subscribers changed (the database's, written by triggers whatever writes it). */
export interface SubscriberChangeLog {
  changesSince(cursor: ChangeCursor | undefined): SubscriberChangesSince;
}

/**
 * Who to forget from a cache of subscribers: fed by the SQLite change log (SubscriberChangeFollower)
 * or by a change feed that drains the ids it was notified of (PostgreSQL).
 */
export interface ChangedSubscribers {
  /** The ids changed since the last call (empty: none), or undefined: forget every one. */
  changed(): readonly number[] | undefined;
}

const NOTHING_CHANGED: readonly number[] = [];

/**
 * Follows the change log for one cache: when the database's generation has moved since the last
 * look, which subscribers changed. Shared by the caches that remember subscribers, by key or by id.
 */
export class SubscriberChangeFollower implements ChangedSubscribers {
  private generation: number | string | undefined;
  private cursor: ChangeCursor | undefined;

  /** `currentGeneration`: anything that moves when the database may have changed (a counter, a marker). */
  constructor(
    private readonly changes: SubscriberChangeLog,
    private readonly currentGeneration: () => number | string,
  ) {}

  /** The ids changed since the last call (none while the generation stays), or undefined: forget every one. */
  changed(): readonly number[] | undefined {
    const generation = this.currentGeneration();
    if (generation === this.generation) return NOTHING_CHANGED;
    this.generation = generation;
    const { cursor, changed } = this.changes.changesSince(this.cursor);
    this.cursor = cursor;
    return changed;
  }
}

/**
 * Subscribers found by key hash, remembered across database changes until they themselves change.
 * An app or box that refreshes its playlist then costs no lookup query. `changes` says which
 * subscribers were written since the last look (renewed, disabled, rotated, removed, pruned, given
 * other packages, by any process), and only they are forgotten: a prune chunk of 5,000 leaves every
 * other box remembered. When it cannot tell (the log trimmed past what was read, the schema changed,
 * a feed that lost its connection), all are forgotten. Access does not depend on the lineup itself
 * (package ids, not their channels), so a lineup change forgets nothing. Unknown keys are not
 * remembered: they are the guess limiter's business.
 *
 * A lookup that waits (PostgreSQL) may have read the database before a change that is forgotten
 * while it waits: it answers its own request, but is not remembered, or a revoked subscriber would
 * be served from memory until its next change.
 */
export class RememberedAccess implements AccessLookup {
  private readonly byKeyHash: RememberedBySubscriber<string, SubscriberAccess>;
  /** Moves at each forget (of anyone, or of everyone): a lookup that saw it move is not remembered. */
  private forgets = 0;

  constructor(
    private readonly source: AccessLookup,
    private readonly changes: ChangedSubscribers,
    maxEntries: number,
  ) {
    this.byKeyHash = new RememberedBySubscriber(maxEntries);
  }

  findAccess(keyHash: string): Awaitable<SubscriberAccess | undefined> {
    this.forgetChanged();
    const remembered = this.byKeyHash.get(keyHash);
    if (remembered) return remembered;
    const found = this.source.findAccess(keyHash);
    if (!(found instanceof Promise)) {
      if (found) this.byKeyHash.remember(keyHash, found);
      return found;
    }
    const forgetsBefore = this.forgets;
    return found.then((subscriber) => {
      this.forgetChanged();
      if (subscriber && this.forgets === forgetsBefore) this.byKeyHash.remember(keyHash, subscriber);
      return subscriber;
    });
  }

  retiredReason(keyHash: string): Awaitable<RetiredReason | undefined> {
    return this.source.retiredReason(keyHash);
  }

  findAccessByUsername(username: string): Awaitable<SubscriberAccess> {
    return this.source.findAccessByUsername(username);
  }

  private forgetChanged(): void {
    const changed = this.changes.changed();
    if (changed === undefined) this.byKeyHash.clear();
    else if (changed.length === 0) return;
    else for (const id of changed) this.byKeyHash.forgetSubscriber(id);
    this.forgets++;
  }
}
