import type { AccessSource } from './access.js';
import type { RetiredReason, SubscriberAccess } from './subscriber.js';

/**
 * Subscribers found by key hash, remembered until the database next changes. An app or box that
 * refreshes its playlist then costs no lookup query, and any write (renew, disable, rotate,
 * remove, from any process) moves the generation and so forgets them all. Unknown keys are not
 * remembered: they are the guess limiter's business.
 */
export class RememberedAccess implements AccessSource {
  private readonly byKeyHash = new Map<string, SubscriberAccess>();
  private generation: number | undefined;

  /** `currentGeneration` must already reflect this request's check of the database (LineupCache.refresh). */
  constructor(
    private readonly source: AccessSource,
    private readonly currentGeneration: () => number,
    private readonly maxEntries: number,
  ) {}

  findAccess(keyHash: string): SubscriberAccess | undefined {
    const generation = this.currentGeneration();
    if (generation !== this.generation) {
      this.byKeyHash.clear();
      this.generation = generation;
    }
    const remembered = this.byKeyHash.get(keyHash);
    if (remembered) return remembered;
    const found = this.source.findAccess(keyHash);
    if (!found) return undefined;
    // The first remembered is the first forgotten: a Map iterates in insertion order.
    if (this.byKeyHash.size >= this.maxEntries) this.byKeyHash.delete(this.byKeyHash.keys().next().value!);
    this.byKeyHash.set(keyHash, found);
    return found;
  }

  retiredReason(keyHash: string): RetiredReason | undefined {
    return this.source.retiredReason(keyHash);
  }

  findAccessByUsername(username: string): SubscriberAccess {
    return this.source.findAccessByUsername(username);
  }
}
