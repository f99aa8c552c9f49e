import type { AccessSource } from './access.js';
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

const NOTHING_CHANGED: readonly number[] = [];

/**
 * Follows the change log for one cache: when the database's generation has moved since the last
 * look, which subscribers changed. Shared by the caches that remember subscribers, by key or by id.
 */
export class SubscriberChangeFollower {
  private generation: number | undefined;
  private cursor: ChangeCursor | undefined;

  constructor(
    private readonly changes: SubscriberChangeLog,
    private readonly currentGeneration: () => number,
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
 * An app or box that refreshes its playlist then costs no lookup query. When the generation moves
 * (any write that may change who sees what, from any process), the change log says which
 * subscribers were written (renewed, disabled, rotated, removed, pruned, given other packages), and
 * only they are forgotten: a prune chunk of 5,000 leaves every other box remembered. When the log
 * cannot tell (trimmed past what was read, the schema changed, the log missing), all are forgotten.
 * Access does not depend on the lineup itself (package ids, not their channels), so a lineup change
 * forgets nothing. Unknown keys are not remembered: they are the guess limiter's business.
 */
export class RememberedAccess implements AccessSource {
  private readonly byKeyHash: RememberedBySubscriber<string, SubscriberAccess>;
  private readonly follower: SubscriberChangeFollower;

  /** `currentGeneration` must already reflect this request's check of the database (LineupCache.refresh). */
  constructor(
    private readonly source: AccessSource,
    changes: SubscriberChangeLog,
    currentGeneration: () => number,
    maxEntries: number,
  ) {
    this.follower = new SubscriberChangeFollower(changes, currentGeneration);
    this.byKeyHash = new RememberedBySubscriber(maxEntries);
  }

  findAccess(keyHash: string): SubscriberAccess | undefined {
    this.forgetChanged();
    const remembered = this.byKeyHash.get(keyHash);
    if (remembered) return remembered;
    const found = this.source.findAccess(keyHash);
    if (!found) return undefined;
    this.byKeyHash.remember(keyHash, found);
    return found;
  }

  retiredReason(keyHash: string): RetiredReason | undefined {
    return this.source.retiredReason(keyHash);
  }

  findAccessByUsername(username: string): SubscriberAccess {
    return this.source.findAccessByUsername(username);
  }

  private forgetChanged(): void {
    const changed = this.follower.changed();
    if (changed === undefined) this.byKeyHash.clear();
    else for (const id of changed) this.byKeyHash.forgetSubscriber(id);
  }
}
